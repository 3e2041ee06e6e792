// The user's proxy, as the environment gives it: HTTP_PROXY, HTTPS_PROXY and NO_PROXY in
// either case (proxy-from-env's reading: the lowercase spelling first, as curl). Policy:
// - Every HTTP(S) request the CLI itself makes (image downloads, the cloud SDKs) goes through
//   the proxy its URL gets, unless NO_PROXY names the host.
// - The engine install on the host and dockerd there get the same settings (host/proxy.ts).
import type { Agent } from 'node:http';
import { getProxyForUrl } from 'proxy-from-env';

export interface ProxySettings {
  HTTP_PROXY: string;
  HTTPS_PROXY: string;
  NO_PROXY: string;
}

const read = (env: NodeJS.ProcessEnv, name: string) => env[name.toLowerCase()] || env[name] || '';

/** This command's proxy settings ('' where unset). */
export function proxyFromEnv(env: NodeJS.ProcessEnv = process.env): ProxySettings {
  return { HTTP_PROXY: read(env, 'HTTP_PROXY'), HTTPS_PROXY: read(env, 'HTTPS_PROXY'), NO_PROXY: read(env, 'NO_PROXY') };
}

export const hasProxy = (p: ProxySettings): boolean => Boolean(p.HTTP_PROXY || p.HTTPS_PROXY);

/** The proxy a request to url goes through, or '' for a direct one. */
export function proxyUrlFor(url: string): string {
  return getProxyForUrl(url);
}

/** An agent that sends requests to url through its proxy; undefined when it goes direct. */
export async function proxyAgentFor(url: string): Promise<Agent | undefined> {
  const proxy = proxyUrlFor(url);
  if (!proxy) return undefined;
  if (url.startsWith('https:')) {
    const { HttpsProxyAgent } = await import('https-proxy-agent');
    return new HttpsProxyAgent(proxy);
  }
  const { HttpProxyAgent } = await import('http-proxy-agent');
  return new HttpProxyAgent(proxy);
}
