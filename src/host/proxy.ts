// The proxy a machine's engine gets. Policy:
// - `create` and `provision` take it from their own environment (HTTP_PROXY, HTTPS_PROXY,
//   NO_PROXY, either case) and record it in machines/NAME/proxy.json, 0600 and never in
//   config.json, since proxy URLs can carry credentials. No proxy variables there means none:
//   that is how a user removes it.
// - Every other provisioning (a start on a new address, regenerate-certs, upgrade) uses the
//   recorded one, so running those from another shell does not strip the engine's proxy.
// - NO_PROXY gets the machine's own addresses and those of the machines in its swarm-mode
//   cluster: the engine must never reach its peers through the proxy.
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { machineFiles } from '../store/machine-files.js';
import { writeFileAtomic } from '../sys/atomic.js';
import { hasProxy, proxyFromEnv, type ProxySettings } from '../sys/proxy.js';
import type { Host } from './host.js';

const recordPath = (host: Host) => machineFiles(host.store.machineDir(host.name)).proxy;

function recorded(host: Host): ProxySettings | undefined {
  const file = recordPath(host);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ProxySettings;
  } catch {
    return undefined;
  }
}

/** Addresses of the machines sharing the host's swarm-mode cluster (their recorded IPs). */
async function clusterAddresses(host: Host): Promise<string[]> {
  const cluster = host.config.SwarmMode?.Cluster;
  if (!cluster) return [];
  const out: string[] = [];
  for (const name of await host.store.list()) {
    try {
      const cfg = await host.store.load(name);
      const ip = (cfg.Driver as { IPAddress?: unknown }).IPAddress;
      if (cfg.SwarmMode?.Cluster === cluster && typeof ip === 'string' && ip) out.push(ip);
    } catch {
      // A machine whose record cannot be read is not a peer we know of.
    }
  }
  return out;
}

/** The settings for provisioning now; undefined when the machine has no proxy. */
export async function machineProxy(host: Host, fromEnvironment: boolean): Promise<ProxySettings | undefined> {
  let proxy: ProxySettings | undefined;
  if (fromEnvironment) {
    proxy = proxyFromEnv();
    if (hasProxy(proxy)) await writeFileAtomic(recordPath(host), JSON.stringify(proxy), 0o600);
    else await rm(recordPath(host), { force: true });
  } else {
    proxy = recorded(host);
  }
  if (!proxy || !hasProxy(proxy)) return undefined;
  const own = [await host.driver.getIP().catch(() => ''), await host.driver.getSSHHostname().catch(() => '')];
  const entries = [...proxy.NO_PROXY.split(','), ...own, ...(await clusterAddresses(host))].map((e) => e.trim()).filter(Boolean);
  return { ...proxy, NO_PROXY: [...new Set(entries)].join(',') };
}
