// IPv4 and CIDR arithmetic, in one place for every driver that plans addresses.
// Addresses are numbers 0..2^32-1 (no bit operators: they are signed 32-bit in JS).

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function isIpv4(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}

/** "a.b.c.d/n": the address as written, the prefix, and the network it lies in. */
export interface Cidr {
  ip: string;
  prefix: number;
  /** The network's first address, as a number. */
  base: number;
  /** Addresses in the network. */
  size: number;
}

/** Parses without judging: callers say what they accept (undefined when it is not a CIDR at all). */
export function parseCidr(cidr: string): Cidr | undefined {
  const [ip = '', len = '32', extra] = cidr.trim().split('/');
  if (extra !== undefined || !isIpv4(ip) || !/^\d{1,2}$/.test(len) || Number(len) > 32) return undefined;
  const prefix = Number(len);
  const size = 2 ** (32 - prefix);
  return { ip, prefix, base: Math.floor(ipToInt(ip) / size) * size, size };
}

/** For CIDRs that come from a trusted source (an engine's network); a bad one is a bug. */
export function cidrOf(cidr: string): Cidr {
  const c = parseCidr(cidr);
  if (!c) throw new Error(`not an IPv4 CIDR: "${cidr}"`);
  return c;
}

export function maskOf(prefix: number): string {
  return intToIp(prefix === 0 ? 0 : 2 ** 32 - 2 ** (32 - prefix));
}

export function prefixOf(mask: string): number {
  return ipToInt(mask).toString(2).replace(/0+$/, '').length;
}

export function sameNetwork(a: { ip: string; prefix: number }, b: { ip: string; prefix: number }): boolean {
  const size = 2 ** (32 - Math.min(a.prefix, b.prefix));
  return Math.floor(ipToInt(a.ip) / size) === Math.floor(ipToInt(b.ip) / size);
}

const HOST_NAME = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;

// As node:net reads IPv4: no leading zeros (01.2.3.4 is a name to it).
const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const STRICT_IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/**
 * 4 or 6 for an IP address, 0 for anything else: node:net's isIP, without its IPv6 pattern,
 * which takes about 8 ms of CPU to compile at a process's first call (every create paid it
 * for the names in its server certificate).
 */
export function ipFamily(s: string): 0 | 4 | 6 {
  if (STRICT_IPV4.test(s)) return 4;
  return isIpv6(s) ? 6 : 0;
}

/**
 * IPv6 through the URL parser: node:net's isIP would load all of net (a few ms of every
 * command that reads a generic machine's flags) and compile its IPv6 pattern. A zone
 * (fe80::1%eth0) is allowed, as isIP allows it; the URL parser does not take one.
 */
function isIpv6(s: string): boolean {
  const bare = s.replace(/%[\w.:-]+$/, '');
  return bare.includes(':') && !/[[\]%]/.test(bare) && URL.canParse(`http://[${bare}]/`);
}

/** An IPv4 or IPv6 address (bracketed or not), or a DNS name; dotted digits must be a real IPv4 address. */
export function isHostAddress(s: string): boolean {
  if (/^[\d.]+$/.test(s)) return isIpv4(s);
  if (s.includes(':')) return isIpv6(s.replace(/^\[|\]$/g, ''));
  return HOST_NAME.test(s);
}
