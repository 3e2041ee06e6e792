// A docker context per machine, in the docker CLI's own store, so that `docker` reaches the
// machine with no DOCKER_* variables (Docker Machine users asked for this for years: its
// #16, #2094, #2665). Policy:
// - The context is named machine-NAME: "default" is docker's own name and is Docker Machine's
//   usual machine name, and the prefix keeps machine's contexts together in `docker context ls`.
// - machine marks the contexts it made (MachineStore, MachineName in their metadata) and only
//   ever changes or removes those; a context of the same name made by someone else is refused
//   with the command that frees the name.
// - Once made (by `use`, `create --context` or `env --context`), the context follows the
//   machine: every provisioning (regenerate-certs, a new address on start, a new CA) and every
//   start rewrites it, and `rm` removes it (going back to "default" if it was current).
import { MachineError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { connectionInfo } from './connection.js';
import type { Host } from './host.js';

const CONTEXT_LOCK = '.docker-context';

export function contextName(machineName: string): string {
  return `machine-${machineName}`;
}

const lazy = () => import('../docker-context/store.js');

type Ownership = 'absent' | 'ours' | 'foreign';

async function ownership(store: Store, machineName: string): Promise<Ownership> {
  const ctx = (await lazy()).readContext(contextName(machineName));
  if (!ctx) return 'absent';
  const m = ctx.metadata;
  return m['MachineStore'] === store.root && m['MachineName'] === machineName ? 'ours' : 'foreign';
}

async function write(host: Host): Promise<void> {
  const info = await connectionInfo(host);
  const ctx = await lazy();
  // Loaded here: node:fs/promises (and the readline it pulls in) costs `env` 2 ms at start.
  const { readFile } = await import('node:fs/promises');
  await ctx.writeContext({
    name: contextName(host.name),
    description: `machine ${host.name} (${host.config.DriverName})`,
    fields: { MachineName: host.name, MachineStore: host.store.root },
    host: info.url,
    ...(info.tls
      ? { tls: { ca: await readFile(info.caCertPath), cert: await readFile(info.clientCertPath), key: await readFile(info.clientKeyPath) } }
      : {}),
  });
}

function foreignError(name: string): MachineError {
  return new MachineError(
    `A docker context named "${name}" exists and was not made for this machine: remove it with "docker context rm ${name}" and try again`,
  );
}

/** create --context checks this before anything is made. */
export async function assertContextFree(store: Store, machineName: string): Promise<void> {
  if ((await ownership(store, machineName)) === 'foreign') throw foreignError(contextName(machineName));
}

/** Makes or updates the machine's context (refusing a foreign one of the same name); returns its name. */
export async function ensureContext(host: Host): Promise<string> {
  const name = contextName(host.name);
  return host.store.withLock(CONTEXT_LOCK, async () => {
    if ((await ownership(host.store, host.name)) === 'foreign') throw foreignError(name);
    await write(host);
    return name;
  });
}

/** `use NAME`: the machine's context, made current. */
export async function useMachineContext(host: Host): Promise<string> {
  const name = await ensureContext(host);
  await host.store.withLock(CONTEXT_LOCK, async () => (await lazy()).setCurrentContext(name));
  return name;
}

/** `use -u`: back to docker's "default" context. */
export async function useDefaultContext(store: Store): Promise<void> {
  await store.withLock(CONTEXT_LOCK, async () => (await lazy()).setCurrentContext(''));
}

/**
 * After the machine's address or certificates may have changed: rewrites its context if it
 * has one. Never fails the command that called it; a context left stale says so.
 */
export async function followContext(host: Host, log: Logger): Promise<void> {
  try {
    await host.store.withLock(CONTEXT_LOCK, async () => {
      if ((await ownership(host.store, host.name)) === 'ours') await write(host);
    });
  } catch (err) {
    log.info(`Could not update the docker context "${contextName(host.name)}": ${(err as Error).message}`);
  }
}

/** On rm: the machine's context goes, and "default" becomes current if it was. */
export async function dropContext(store: Store, machineName: string, log: Logger): Promise<void> {
  try {
    await store.withLock(CONTEXT_LOCK, async () => {
      if ((await ownership(store, machineName)) !== 'ours') return;
      const ctx = await lazy();
      const name = contextName(machineName);
      if (ctx.currentContext() === name) await ctx.setCurrentContext('');
      await ctx.removeContext(name);
    });
  } catch (err) {
    log.info(`Could not remove the docker context "${contextName(machineName)}": ${(err as Error).message}`);
  }
}

/**
 * The machine the docker CLI would talk to through a context, when DOCKER_HOST does not
 * override it: DOCKER_CONTEXT, else config.json's current context, if machine made it for
 * this store. Reads two small files; `ls` calls it once.
 */
export async function machineOfCurrentContext(store: Store): Promise<string | undefined> {
  if (process.env.DOCKER_HOST) return undefined;
  try {
    const ctx = await lazy();
    const name = process.env.DOCKER_CONTEXT || ctx.currentContext();
    if (!name || name === 'default') return undefined;
    const found = ctx.readContext(name);
    const m = found?.metadata;
    return m && m['MachineStore'] === store.root && typeof m['MachineName'] === 'string' ? m['MachineName'] : undefined;
  } catch {
    return undefined;
  }
}
