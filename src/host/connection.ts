import { existsSync } from 'node:fs';
import { CertMismatchError, MachineError, progName } from '../errors.js';
import { checkServerCertFor } from '../certs/index.js';
import { clientTls, type Host } from './host.js';
import { engineVersionOverSsh, sshEngineUrl, transportOf } from './transport.js';
import { silentLogger } from '../log.js';

export interface ConnectionInfo {
  name: string;
  url: string;
  ip: string;
  certDir: string;
  caCertPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  /** False for an engine reached without TLS (none driver: tcp://HOST:2375, ssh://, unix://). */
  tls: boolean;
}

/**
 * Whether the docker CLI should dial this URL with TLS: machine's own engines always; a URL
 * given to the none driver unless it is plain by convention (2375) or by scheme.
 */
export function urlUsesTls(url: string): boolean {
  const u = new URL(url);
  if (u.protocol !== 'tcp:' && u.protocol !== 'https:') return false;
  return u.port !== '2375';
}

/**
 * What `env` and `config` print. The server certificate is checked locally against the
 * address the client will dial (no network round trip, so it stays fast and works
 * offline); a mismatch, as after an IP change, names `regenerate-certs` as the fix.
 */
export async function connectionInfo(target: Host): Promise<ConnectionInfo> {
  const url = await engineUrl(target);
  const dialHost = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (overSsh(target)) {
    // No certificate to check: the pinned host key guards this way in (ssh-config.ts).
    return { name: target.name, url, ip: dialHost, ...clientTls(target), tls: false };
  }
  // A driver without provisioning (none) points at an engine whose certificate we never made.
  if (target.driver.provisionable) {
    const certPath = target.config.HostOptions.AuthOptions.ServerCertPath;
    // No certificate at all: a create that never got to provisioning (it crashed or was
    // killed). Finishing it or removing it are the ways out, not regenerate-certs.
    if (!existsSync(certPath)) {
      throw new MachineError(
        `Machine "${target.name}" was not fully created (it has no server certificate, ${certPath}): run "${progName()} provision ${target.name}" to finish it, or "${progName()} rm ${target.name}"`,
      );
    }
    const check = checkServerCertFor({ certPath, host: dialHost });
    if (!check.ok) throw new CertMismatchError(target.name, `${url}: ${check.reason}`);
  }
  const tls = clientTls(target);
  return { name: target.name, url, ip: dialHost, ...tls, tls: target.driver.provisionable || urlUsesTls(url) };
}


const overSsh = (host: Host) => transportOf(host.config.HostOptions.EngineOptions) === 'ssh';

/** Where the docker CLI dials the machine's engine: the driver's TLS URL, or ssh://USER@HOST:PORT. */
export async function engineUrl(host: Host): Promise<string> {
  if (!overSsh(host)) return host.driver.getURL();
  return sshEngineUrl(host.driver.getSSHUsername(), await host.driver.getSSHHostname(), await host.driver.getSSHPort());
}

/** The engine's version (`version NAME`): one API call over TLS, or one command over SSH, bounded by timeoutMs. */
export async function engineVersionOf(host: Host, timeoutMs: number): Promise<string> {
  if (overSsh(host)) {
    const { connectHost } = await import('./ssh.js');
    const session = await connectHost(host, silentLogger);
    try {
      return await engineVersionOverSsh(session, timeoutMs);
    } finally {
      session.close();
    }
  }
  const { engineVersion } = await import('../engine/tls-api.js');
  return (await engineVersion(await host.driver.getURL(), clientTls(host), timeoutMs)).Version;
}
