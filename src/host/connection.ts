import { CertMismatchError, MachineError } from '../errors.js';
import { checkServerCertFor } from '../certs/index.js';
import { clientTls, loadHost, type Host } from './host.js';

export interface ConnectionInfo {
  name: string;
  url: string;
  ip: string;
  certDir: string;
  caCertPath: string;
  clientCertPath: string;
  clientKeyPath: string;
}

/**
 * What `env` and `config` print. The server certificate is checked locally against the
 * address the client will dial (no network round trip, so it stays fast and works
 * offline); a mismatch, as after an IP change, names `regenerate-certs` as the fix.
 */
export async function connectionInfo(host: Host, opts: { swarm?: boolean } = {}): Promise<ConnectionInfo> {
  const target = opts.swarm ? await swarmManagerOf(host) : host;
  const url = await target.driver.getURL();
  const dialHost = new URL(url).hostname.replace(/^\[|\]$/g, '');
  // A driver without provisioning (none) points at an engine whose certificate we never made.
  if (target.driver.provisionable) {
    const certPath = target.config.HostOptions.AuthOptions.ServerCertPath;
    const check = checkServerCertFor({ certPath, host: dialHost });
    if (!check.ok) throw new CertMismatchError(target.name, `${url}: ${check.reason}`);
  }
  const tls = clientTls(target);
  return { name: target.name, url, ip: dialHost, ...tls };
}

/** For `--swarm`: a running manager of the machine's swarm-mode cluster. */
async function swarmManagerOf(host: Host): Promise<Host> {
  const cluster = host.config.SwarmMode?.Cluster;
  if (!cluster) throw new MachineError(`Machine "${host.name}" is not part of a swarm`);
  if (host.config.SwarmMode?.Role === 'manager') return host;
  for (const name of await host.store.list()) {
    const other = await host.store.load(name).catch(() => undefined);
    if (other?.SwarmMode?.Cluster === cluster && other.SwarmMode.Role === 'manager') {
      const candidate = await loadHost(host.store, name);
      if ((await candidate.driver.getState()) === 'Running') return candidate;
    }
  }
  throw new MachineError(`No running manager found for swarm "${cluster}"`);
}
