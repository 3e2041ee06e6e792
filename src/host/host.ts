import { loadDriver } from '../drivers/registry.js';
import type { Driver, DriverContext } from '../drivers/driver.js';
import { statSync } from 'node:fs';
import { CorruptConfigError, MachineError, UsageError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { MachineFiles } from '../store/machine-files.js';
import { resolveStoreRoot } from '../store/paths.js';
import { Store } from '../store/store.js';
import type { HostConfig } from '../store/schema.js';

export { silentLogger };

/** A machine as commands see it: its saved config and a live driver for it. */
export interface Host {
  name: string;
  config: HostConfig;
  driver: Driver;
  store: Store;
  /** Set once a create kept a copy of a host it did not make (generic): a rollback restores it. */
  hostBackedUp?: boolean;
}

/** The store the command works on: `-s`, MACHINE_STORAGE_PATH or ~/.docker/machine. */
export function openStore(storagePathFlag?: string, onLockWait?: (message: string) => void): Store {
  const root = resolveStoreRoot(storagePathFlag);
  let isDir = true;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    // Not there yet: the first create makes it.
  }
  if (!isDir) throw new UsageError(`Storage path ${root} is not a directory: point --storage-path (or MACHINE_STORAGE_PATH) at a folder`);
  return new Store(root, onLockWait ? { onLockWait } : {});
}

/** Loads a machine and checks its driver's settings, naming the file and field when one is wrong. */
export async function loadHost(store: Store, name: string, log: Logger = silentLogger): Promise<Host> {
  const config = await store.load(name);
  const mod = await loadDriver(config.DriverName);
  let settings;
  try {
    settings = mod.readSettings(config.Driver);
  } catch (err) {
    // A plugin may throw any error: it is still this file that is wrong.
    const detail = err instanceof MachineError ? err.message : `driver ${config.DriverName} refused its settings: ${(err as Error).message}`;
    throw new CorruptConfigError(store.configPath(name), detail);
  }
  const driver = mod.newDriver(driverContext(store, name, log), settings);
  return { name, config, driver, store };
}

export function driverContext(store: Store, name: string, log: Logger, signal?: AbortSignal): DriverContext {
  return {
    machineName: name,
    storePath: store.root,
    machineDir: store.machineDir(name),
    log,
    ...(signal ? { signal } : {}),
    // Keys start with a dot, which no machine name can: they never clash with a machine's lock.
    lock: (key, fn) => store.withLock(`.shared-${key}`, fn),
  };
}

/**
 * Saves what the driver learnt (new addresses, ports) into the record, under the machine's
 * lock, on top of whatever another command saved meanwhile.
 */
export async function saveDriverState(host: Host, opts: { locked?: boolean } = {}): Promise<void> {
  const write = async () => {
    const fresh = await host.store.load(host.name);
    host.config = { ...fresh, Driver: host.driver.config() };
    await host.store.save(host.config);
  };
  if (opts.locked) await write();
  else await host.store.withLock(host.name, write);
}

export function knownHostsPath(host: Host): string {
  return host.store.files(host.name).knownHosts;
}

/**
 * The TLS files the docker CLI uses for this machine: copies in its own directory, which
 * provisioning makes; for an engine machine did not provision (none), the store's own pair.
 */
export function clientTls(host: Host): { caCertPath: string; clientCertPath: string; clientKeyPath: string; certDir: string } {
  if (!host.driver.provisionable) {
    const auth = host.config.HostOptions.AuthOptions;
    return { certDir: auth.CertDir, caCertPath: auth.CaCertPath, clientCertPath: auth.ClientCertPath, clientKeyPath: auth.ClientKeyPath };
  }
  const dir = host.store.machineDir(host.name);
  const files = new MachineFiles(dir);
  return {
    certDir: dir,
    caCertPath: files.caCert,
    clientCertPath: files.clientCert,
    clientKeyPath: files.clientKey,
  };
}

/** Docker Machine's swarm-mode addition: the cluster and role, when the machine is in one. */
export function swarmLabel(config: HostConfig): string {
  const s = config.SwarmMode;
  return s ? `${s.Cluster} (${s.Role})` : '';
}
