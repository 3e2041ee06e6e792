import { join } from 'node:path';
import { loadDriver } from '../drivers/registry.js';
import type { Driver, DriverContext, DriverLogger } from '../drivers/driver.js';
import type { Store } from '../store/store.js';
import type { HostConfig } from '../store/schema.js';

/** A machine as commands see it: its saved config and a live driver for it. */
export interface Host {
  name: string;
  config: HostConfig;
  driver: Driver;
  store: Store;
}

export const silentLogger: DriverLogger = { info: () => undefined, debug: () => undefined };

export async function loadHost(store: Store, name: string, log: DriverLogger = silentLogger): Promise<Host> {
  const config = await store.load(name);
  const mod = await loadDriver(config.DriverName);
  const driver = mod.newDriver(driverContext(store, name, log), config.Driver);
  return { name, config, driver, store };
}

export function driverContext(store: Store, name: string, log: DriverLogger): DriverContext {
  return {
    machineName: name,
    storePath: store.root,
    machineDir: store.machineDir(name),
    log,
    // Keys start with a dot, which no machine name can: they never clash with a machine's lock.
    lock: (key, fn) => store.withLock(`.shared-${key}`, fn),
  };
}

export function knownHostsPath(host: Host): string {
  return join(host.store.machineDir(host.name), 'known_hosts');
}

/** The TLS files the docker CLI uses for this machine (copies in its own directory). */
export function clientTls(host: Host): { caCertPath: string; clientCertPath: string; clientKeyPath: string; certDir: string } {
  const dir = host.store.machineDir(host.name);
  return {
    certDir: dir,
    caCertPath: join(dir, 'ca.pem'),
    clientCertPath: join(dir, 'cert.pem'),
    clientKeyPath: join(dir, 'key.pem'),
  };
}

/** Docker Machine's swarm-mode addition: the cluster and role, when the machine is in one. */
export function swarmLabel(config: HostConfig): string {
  const s = config.SwarmMode;
  return s ? `${s.Cluster} (${s.Role})` : '';
}
