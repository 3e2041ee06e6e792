import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export type CertCheck = { ok: true } | { ok: false; reason: string };

/** Names a certificate's SANs the way Go's x509 error lists them. */
function sanList(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .map((s) => s.replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean);
}

/**
 * Whether the server certificate is valid for the address the client will dial. This is
 * the fast path of `env`/`config`: node:crypto only, no network.
 */
export function checkServerCertFor(opts: { certPath: string; host: string; now?: Date }): CertCheck {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(opts.certPath));
  } catch (err) {
    return { ok: false, reason: `cannot read ${opts.certPath}: ${(err as Error).message}` };
  }
  const now = opts.now ?? new Date();
  if (new Date(cert.validTo) < now) return { ok: false, reason: `certificate has expired (not after ${new Date(cert.validTo).toISOString()})` };
  if (new Date(cert.validFrom) > now) return { ok: false, reason: `certificate is not valid yet (not before ${new Date(cert.validFrom).toISOString()})` };
  const matches = isIP(opts.host) ? cert.checkIP(opts.host) : cert.checkHost(opts.host, { subject: 'never' });
  if (matches) return { ok: true };
  return { ok: false, reason: `x509: certificate is valid for ${sanList(cert).join(', ')}, not ${opts.host}` };
}

/** Whether certPath was signed by the CA at caPath. */
export function certMatchesCA(certPath: string, caPath: string): boolean {
  try {
    const cert = new X509Certificate(readFileSync(certPath));
    const ca = new X509Certificate(readFileSync(caPath));
    return cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}
