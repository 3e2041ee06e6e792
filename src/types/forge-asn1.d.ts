// node-forge's DER encoder on its own: the package's types describe it as forge.asn1.
declare module 'node-forge/lib/asn1.js' {
  import type forge from 'node-forge';
  const asn1: typeof forge.asn1;
  export default asn1;
}
