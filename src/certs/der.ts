// Reads the two things `env` checks in a certificate, its validity and its subject
// alternative names, straight from the DER. node:crypto's X509Certificate does this too,
// but loading node:crypto costs `machine env` a tenth of its start time; this stays small.

interface Tlv {
  tag: number;
  /** Where the element starts (its tag); its content is start..end. */
  head: number;
  start: number;
  end: number;
}

function readTlv(buf: Buffer, pos: number): Tlv {
  const tag = buf[pos]!;
  let len = buf[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  if (start + len > buf.length) throw new Error('truncated DER');
  return { tag, head: pos, start, end: start + len };
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = parent.start; pos < parent.end; ) {
    const t = readTlv(buf, pos);
    out.push(t);
    pos = t.end;
  }
  return out;
}

function parseTime(buf: Buffer, t: Tlv): Date {
  const s = buf.toString('ascii', t.start, t.end);
  const full = t.tag === 0x17 ? (Number(s.slice(0, 2)) >= 50 ? '19' : '20') + s : s;
  const [y, mo, d, h, mi, se] = [full.slice(0, 4), full.slice(4, 6), full.slice(6, 8), full.slice(8, 10), full.slice(10, 12), full.slice(12, 14)];
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${se}Z`);
}

const SAN_OID = Buffer.from([0x55, 0x1d, 0x11]); // 2.5.29.17

export interface CertFacts {
  notBefore: Date;
  notAfter: Date;
  dns: string[];
  ips: string[];
}

function ipString(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':');
}

export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error('no PEM certificate found');
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

/** The subject Name of a certificate, as DER: a certificate it issues must name it byte for byte. */
export function certSubjectDer(der: Buffer): Buffer {
  const fields = children(der, children(der, readTlv(der, 0))[0]!);
  const subject = fields[(fields[0]!.tag === 0xa0 ? 1 : 0) + 4]!;
  return der.subarray(subject.head, subject.end);
}

/** SubjectPublicKeyInfo ::= SEQUENCE { algorithm, BIT STRING }: the key's bits, past the unused-bits octet. */
export function subjectPublicKeyBits(spki: Buffer): Buffer {
  const key = children(spki, readTlv(spki, 0))[1]!;
  return spki.subarray(key.start + 1, key.end);
}

export function certFacts(der: Buffer): CertFacts {
  const cert = readTlv(der, 0);
  const tbs = children(der, cert)[0]!;
  const fields = children(der, tbs);
  // An explicit [0] version comes first in v3 certificates.
  const i = fields[0]!.tag === 0xa0 ? 1 : 0;
  const validity = children(der, fields[i + 3]!);
  const facts: CertFacts = { notBefore: parseTime(der, validity[0]!), notAfter: parseTime(der, validity[1]!), dns: [], ips: [] };
  const extWrapper = fields.find((f) => f.tag === 0xa3);
  if (!extWrapper) return facts;
  for (const ext of children(der, children(der, extWrapper)[0]!)) {
    const parts = children(der, ext);
    const oid = der.subarray(parts[0]!.start, parts[0]!.end);
    if (!oid.equals(SAN_OID)) continue;
    const value = parts[parts.length - 1]!;
    for (const name of children(der, readTlv(der, value.start))) {
      const raw = der.subarray(name.start, name.end);
      if (name.tag === 0x82) facts.dns.push(raw.toString('ascii'));
      if (name.tag === 0x87) facts.ips.push(ipString(raw));
    }
  }
  return facts;
}

/** Expands an IPv6 text form to the 8 unpadded hex groups ipString writes. */
export function normaliseIP(ip: string): string {
  if (!ip.includes(':')) return ip;
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16).toString(16)).join(':');
}

export function dnsMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === h) return true;
  if (p.startsWith('*.')) {
    const dot = h.indexOf('.');
    return dot > 0 && h.slice(dot) === p.slice(1);
  }
  return false;
}
