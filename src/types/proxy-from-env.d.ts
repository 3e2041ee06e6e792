// proxy-from-env ships no types; the one function machine uses.
declare module 'proxy-from-env' {
  /** The proxy URL for url from the environment's *_PROXY and NO_PROXY, or '' for none. */
  export function getProxyForUrl(url: string | URL): string;
}
