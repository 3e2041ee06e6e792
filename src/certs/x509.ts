// X.509 v3 certificates built with node-forge's DER encoder alone. forge's pki can hold
// only RSA keys, and loading the whole of forge cost every create about a tenth of a
// second; its asn1 module loads in a few milliseconds. node:crypto makes keys and signs.
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import asn1 from 'node-forge/lib/asn1.js';
import { normaliseIP, subjectPublicKeyBits } from './der.js';
import { ipFamily } from '../net/ipv4.js';

// The framing (tag, length, content) is written here, so that DER already made (a public
// key from node:crypto, the CA's subject, the signed part) is spliced in byte for byte;
// forge encodes the fiddly leaves (object identifiers, times).
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const fromBinary = (s: string) => Buffer.from(s, 'binary');
const seq = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const oid = (id: string) => tlv(0x06, fromBinary(asn1.oidToDer(id).getBytes()));
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
const TRUE = tlv(0x01, Buffer.from([0xff]));
const NULL = tlv(0x05);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

const OID = {
  organizationName: '2.5.4.10',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
};

// Bit positions of RFC 5280's KeyUsage.
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;
export type KeyUsage = keyof typeof KEY_USAGE;

export interface CertificateSpec {
  /** The subject: organisation and common name, as Docker Machine writes them. */
  org: string;
  commonName: string;
  /** The subject's public key. */
  publicKey: KeyObject;
  /** The issuer's subject Name as DER, or none for a self-signed certificate. */
  issuerDer?: Buffer;
  /** The issuer's private key; the subject's own for a self-signed one. */
  signerKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  keyUsage: KeyUsage[];
  extKeyUsage?: Array<'serverAuth' | 'clientAuth'>;
  /** Addresses become IP SANs, anything else DNS SANs. */
  hosts?: string[];
}

function name(org: string, commonName: string): Buffer {
  const rdn = (id: string, value: string) => set(seq(oid(id), utf8(value)));
  return seq(rdn(OID.organizationName, org), rdn(OID.commonName, commonName));
}

function time(d: Date): Buffer {
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(asn1.dateToUtcTime(d), 'ascii')) : tlv(0x18, Buffer.from(asn1.dateToGeneralizedTime(d), 'ascii'));
}

/**
 * 16 random bytes with the top bits 01: positive, and never a leading zero byte, which a
 * DER INTEGER may not have (Go's parser rejects such a certificate outright).
 */
function serial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return tlv(0x02, b);
}

function keyUsageBits(usages: KeyUsage[]): Buffer {
  let v = 0;
  for (const u of usages) v |= 0x80 >> KEY_USAGE[u];
  // DER: the named-bit list ends at its last set bit; the first octet counts the rest.
  let unused = 0;
  while (unused < 8 && !(v & (1 << unused))) unused++;
  return bits(Buffer.from([v]), unused);
}

function extension(id: string, value: Buffer, critical = false): Buffer {
  return seq(oid(id), ...(critical ? [TRUE] : []), octets(value));
}

/** GeneralNames: [2] dNSName, [7] iPAddress. */
function altNames(hosts: string[]): Buffer {
  return seq(
    ...hosts.map((h) => {
      const family = ipFamily(h);
      return family ? tlv(0x87, ipBytes(h, family)) : tlv(0x82, Buffer.from(h, 'ascii'));
    }),
  );
}

function ipBytes(ip: string, version: number): Buffer {
  if (version === 4) return Buffer.from(ip.split('.').map(Number));
  const out = Buffer.alloc(16);
  normaliseIP(ip)
    .split(':')
    .forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function signatureAlgorithm(signerKey: KeyObject): Buffer {
  const type = signerKey.asymmetricKeyType;
  if (type === 'rsa') return seq(oid(OID.sha256WithRSA), NULL);
  // RFC 5758: ECDSA's AlgorithmIdentifier has no parameters, not even NULL.
  if (type === 'ec') return seq(oid(OID.ecdsaWithSHA256));
  throw new Error(`a CA key of type ${type} cannot sign here: use an RSA or EC (P-256) CA`);
}

/** A certificate as PEM. */
export function buildCertificate(spec: CertificateSpec): string {
  const spki = spec.publicKey.export({ type: 'spki', format: 'der' });
  const subject = name(spec.org, spec.commonName);
  const alg = signatureAlgorithm(spec.signerKey);
  const exts = [extension(OID.basicConstraints, spec.ca ? seq(TRUE) : seq(), spec.ca), extension(OID.keyUsage, keyUsageBits(spec.keyUsage), true)];
  if (spec.extKeyUsage?.length) exts.push(extension(OID.extKeyUsage, seq(...spec.extKeyUsage.map((u) => oid(OID[u])))));
  if (spec.hosts?.length) exts.push(extension(OID.subjectAltName, altNames(spec.hosts)));
  // RFC 5280 4.2.1.2, method 1: SHA-1 of the subjectPublicKey bits (the tail of the key's DER).
  if (spec.ca) exts.push(extension(OID.subjectKeyIdentifier, octets(createHash('sha1').update(subjectPublicKeyBits(spki)).digest())));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    serial(),
    alg,
    spec.issuerDer ?? subject,
    seq(time(spec.notBefore), time(spec.notAfter)),
    subject,
    spki,
    tlv(0xa3, seq(...exts)),
  );
  const cert = seq(tbs, alg, bits(sign('sha256', tbs, spec.signerKey)));
  return `-----BEGIN CERTIFICATE-----\n${cert.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}
