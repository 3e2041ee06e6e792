import { readFileSync } from 'node:fs';
import { certFacts, dnsMatches, normaliseIP, pemToDer } from './der.js';
import { answerTap } from '../answer-tap.js';

export type CertCheck = { ok: true } | { ok: false; reason: string };

/**
 * Whether the server certificate is valid for the address the client will dial. This is
 * the fast path of `env`/`config`: no network and no node:crypto.
 */
export function checkServerCertFor(opts: { certPath: string; host: string; now?: Date }): CertCheck {
  let facts;
  try {
    facts = certFacts(pemToDer(readFileSync(opts.certPath, 'utf8')));
  } catch (err) {
    return { ok: false, reason: `cannot read ${opts.certPath}: ${(err as Error).message}` };
  }
  const now = opts.now ?? new Date();
  // The answer cache gives this answer again only within the certificate's validity.
  answerTap()?.validWithin(facts.notBefore.getTime(), facts.notAfter.getTime());
  if (facts.notAfter < now) return { ok: false, reason: `certificate has expired (not after ${facts.notAfter.toISOString()})` };
  if (facts.notBefore > now) return { ok: false, reason: `certificate is not valid yet (not before ${facts.notBefore.toISOString()})` };
  const isIP = /^\d{1,3}(\.\d{1,3}){3}$/.test(opts.host) || opts.host.includes(':');
  const matches = isIP
    ? facts.ips.some((ip) => ip === normaliseIP(opts.host))
    : facts.dns.some((d) => dnsMatches(d, opts.host));
  if (matches) return { ok: true };
  return { ok: false, reason: `x509: certificate is valid for ${[...facts.ips, ...facts.dns].join(', ')}, not ${opts.host}` };
}

/** Whether certPath was signed by the CA at caPath (diagnostics; loads node:crypto). */
export async function certMatchesCA(certPath: string, caPath: string): Promise<boolean> {
  const { X509Certificate } = await import('node:crypto');
  try {
    const cert = new X509Certificate(readFileSync(certPath));
    const ca = new X509Certificate(readFileSync(caPath));
    return cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}
