import { cpuCount } from '../os-facts.js';
import pLimit from 'p-limit';
import { engineUrl, urlUsesTls } from './connection.js';
import { machineOfCurrentContext } from './context.js';
import { clientTls, loadHost, swarmLabel, type Host } from './host.js';
import { loadDriver } from '../drivers/registry.js';
import type { Store } from '../store/store.js';
import { tlsSessionsFile } from '../store/paths.js';
import type { MachineState } from '../drivers/driver.js';

/** One `ls` row; field names are Docker Machine's, since `--format` templates use them. */
export interface ListItem {
  Name: string;
  Active: string;
  ActiveHost: boolean;
  ActiveSwarm: boolean;
  DriverName: string;
  State: MachineState | '';
  URL: string;
  SwarmOptions: unknown;
  Swarm: string;
  EngineOptions: unknown;
  DockerVersion: string;
  Error: string;
  ResponseTime: string;
  Labels: string[];
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms);
    }),
  ]);
}

/**
 * How many machines are asked at once. Unbounded, 500 machines meant 500 connections at the
 * same instant: a listener's accept queue (sshd keeps 128) drops the rest of the SYNs, whose
 * retries come 1 and 3 s later, so machines that were running read Stopped on a timeout.
 * Bounded, the work is the same and the waits still overlap: 32 per core keeps a store of
 * far-away machines (a few round trips each) as quick as before.
 */
const PER_CORE = 32;
export const lsFanOut = (): number => PER_CORE * cpuCount();

/**
 * The bound for n machines. It is at least PER_CORE, so for a few machines (active in a shell
 * prompt, ls of one) the CPU count cannot matter and is not asked: node:os would cost them
 * 0.3 ms to load.
 */
const fanOutFor = (n: number): number => (n * 2 <= PER_CORE ? PER_CORE : lsFanOut());

/**
 * Every machine's state, checked in parallel, each bounded by timeoutMs. `versions: false`
 * skips asking each running engine its version (a TLS handshake each): `active` needs only
 * states and URLs.
 */
export async function listMachines(
  store: Store,
  timeoutMs: number,
  opts: { names?: string[]; versions?: boolean; debug?: (line: string) => void; loaded?: Host[] } = {},
): Promise<ListItem[]> {
  const versions = opts.versions ?? true;
  const debug = opts.debug ?? (() => undefined);
  const all = opts.loaded?.map((h) => h.name) ?? opts.names ?? (await store.list());
  const activeUrl = process.env.DOCKER_HOST ?? '';
  const started = Date.now();
  // Without DOCKER_HOST, the docker CLI talks to its current context's machine, if machine made it.
  const byContext = await machineOfCurrentContext(store);
  const isActive = (name: string, url: string) => name === byContext || (activeUrl !== '' && activeUrl === url);
  const fanOut = fanOutFor(all.length);
  const limit = pLimit(fanOut);
  // Asking engines beside their state checks doubles the connections in flight: only while
  // that stays within the fan-out's bound (with more, the accept queues it protects overflow,
  // as 250 machines on one host showed: 8 read Stopped).
  const early = all.length * 2 <= fanOut;
  // Each machine is checked as soon as its record is read, and the records are read a slice
  // at a time with the event loop turning in between: the first connections are on the wire
  // while the rest are read (ls of 500 machines read for 30 ms before its first connect).
  // Machines whose driver answers for many at once (batchedStates) wait until all are read.
  let allRead!: (ready: Ready[]) => void;
  const batches = new Promise<Ready[]>((resolve) => (allRead = resolve)).then((ready) =>
    batchedStates(
      ready.flatMap((r) => (r.batched ? [r.host] : [])),
      timeoutMs,
    ),
  );
  const ready: Array<Promise<Ready>> = [];
  const items: Array<Promise<ListItem>> = [];
  for (let i = 0; i < all.length; i++) {
    if (i > 0 && i % READ_SLICE === 0) await new Promise(setImmediate);
    const name = all[i]!;
    const one = readOne(store, name, opts.loaded?.[i]);
    ready.push(one);
    items.push(
      one.then(async (r) => {
        const batched = r.batched ? (await batches).get(r.host) : undefined;
        return limit(() => describe(name, r.host, batched, timeoutMs, isActive, started, versions, early, debug));
      }),
    );
  }
  allRead(await Promise.all(ready));
  debug(`ls: ${all.length} records loaded in ${Date.now() - started} ms`);
  const described = await Promise.all(items);
  debug(`ls: ${described.length} machines described in ${Date.now() - started} ms`);
  return described;
}

// One name per store for all its machines' engine calls (cacheDir reads the environment).
const sessionFiles = new Map<string, string>();
const sessionFileOf = (root: string): string => {
  let file = sessionFiles.get(root);
  if (file === undefined) sessionFiles.set(root, (file = tlsSessionsFile(root)));
  return file;
};

/** Records read between two turns of the event loop while ls starts its checks. */
const READ_SLICE = 16;

/** A machine's record, read (or why not), and whether its driver answers its state with others'. */
type Ready = { host: Host; batched: boolean } | { host: Error; batched: false };

async function readOne(store: Store, name: string, loaded: Host | undefined): Promise<Ready> {
  const host = loaded ?? (await loadHost(store, name).catch((err: Error) => err));
  if (host instanceof Error) return { host, batched: false };
  return { host, batched: Boolean((await loadDriver(host.config.DriverName)).listStates) };
}

/**
 * `active`: the machine the docker CLI talks to (DOCKER_HOST, or the current context machine
 * made), if it is Running. A machine whose URL is in its record (generic, azure) and is not
 * DOCKER_HOST cannot be that one, whatever its state: it is left out before any state is
 * checked, so that `active` in a shell prompt costs one probe, not one per machine.
 */
export async function activeMachineName(store: Store, timeoutMs: number): Promise<string | undefined> {
  const activeUrl = process.env.DOCKER_HOST ?? '';
  const byContext = await machineOfCurrentContext(store);
  if (!activeUrl && !byContext) return undefined;
  const names = await store.list();
  const hosts = await Promise.all(names.map((name) => loadHost(store, name).catch(() => undefined)));
  const candidates: Host[] = [];
  for (const host of hosts) {
    // A record that does not load is never active (ls shows it as an Error).
    if (!host) continue;
    const url = host.driver.urlFromRecord && host.name !== byContext ? await engineUrl(host).catch(() => '') : undefined;
    if (url === undefined || (url !== '' && url === activeUrl)) candidates.push(host);
  }
  if (!candidates.length) return undefined;
  // States and URLs only: which engine answers which version is ls's business.
  const items = await listMachines(store, timeoutMs, { loaded: candidates, versions: false });
  return items.find((i) => i.ActiveHost)?.Name;
}

/**
 * States from drivers that answer for many machines in one call (amazonec2: one
 * DescribeInstances per region), so that `ls` costs one round trip per provider, not one per
 * machine.
 */
async function batchedStates(hosts: Host[], timeoutMs: number): Promise<Map<Host | Error, MachineState | Error>> {
  const byDriver = new Map<string, Host[]>();
  for (const h of hosts) {
    byDriver.set(h.config.DriverName, [...(byDriver.get(h.config.DriverName) ?? []), h]);
  }
  const out = new Map<Host | Error, MachineState | Error>();
  await Promise.all(
    [...byDriver].map(async ([driverName, members]) => {
      const mod = await loadDriver(driverName);
      if (!mod.listStates) return;
      try {
        const states = await withTimeout(mod.listStates(members.map((h) => h.driver)), timeoutMs, 'state');
        members.forEach((h, i) => out.set(h, states[i] ?? new Error('no state')));
      } catch (err) {
        for (const h of members) out.set(h, err as Error);
      }
    }),
  );
  return out;
}

async function describe(
  name: string,
  loaded: Host | Error,
  batched: MachineState | Error | undefined,
  timeoutMs: number,
  isActive: (name: string, url: string) => boolean,
  started: number,
  versions: boolean,
  early: boolean,
  debug: (line: string) => void,
): Promise<ListItem> {
  const item: ListItem = {
    Name: name,
    Active: '-',
    ActiveHost: false,
    ActiveSwarm: false,
    DriverName: '',
    State: '',
    URL: '',
    SwarmOptions: null,
    Swarm: '',
    EngineOptions: null,
    DockerVersion: 'Unknown',
    Error: '',
    ResponseTime: '',
    Labels: [],
  };
  try {
    if (loaded instanceof Error) throw loaded;
    const host = loaded;
    item.DriverName = host.config.DriverName;
    item.SwarmOptions = host.config.HostOptions.SwarmOptions;
    item.EngineOptions = host.config.HostOptions.EngineOptions;
    item.Labels = host.config.HostOptions.EngineOptions.Labels;
    item.Swarm = swarmLabel(host.config);
    if (batched instanceof Error) throw batched;
    // An engine without TLS (none driver on :2375, ssh://) is not asked through the TLS client.
    // Nor is one reached over SSH: a login per machine would make ls slow (its version is `version NAME`).
    const asksEngine = (url: string) => versions && (urlUsesTls(url) || (host.driver.provisionable && !url.startsWith('ssh:')));
    const askEngine = async (url: string, signal?: AbortSignal) => {
      // Loaded here: node:https and the TLS stack cost `active` (no versions) about 15 ms.
      const { engineVersionByPing } = await import('../engine/tls-api.js');
      const tls = { ...clientTls(host), sessionFile: sessionFileOf(host.store.root) };
      return engineVersionByPing(url, tls, Math.max(1000, timeoutMs - (Date.now() - started)), debug, signal);
    };
    // Where the URL is in the record, the engine is asked beside the state check, so that the
    // probe's round trip and the TLS handshake overlap (ls of one generic machine: 15 ms of
    // its 60). The driver's state still decides, as in Docker Machine: the answer is dropped
    // unless the machine is Running. The engine is asked first: its TLS set-up is the longer
    // way, and the probe's connect then waits on the wire beside the handshake, not before it.
    const drop = new AbortController();
    let asked: Promise<string> | undefined;
    if (early && batched === undefined && host.driver.urlFromRecord) {
      const url = await engineUrl(host).catch(() => '');
      if (url && asksEngine(url)) {
        asked = askEngine(url, drop.signal);
        asked.catch(() => undefined);
      }
    }
    const stateNow = batched === undefined ? withTimeout((host.driver.quickState ?? host.driver.getState).call(host.driver), timeoutMs, 'state') : undefined;
    try {
      item.State = batched ?? (await stateNow!);
    } finally {
      // Only an engine call in flight is dropped: abort() makes a DOMException and its stack
      // even with no listener (ls of 500 machines: 250 of them, ~5 ms, for nothing).
      if (item.State !== 'Running' && asked) drop.abort();
    }
    debug(`ls: ${name} state ${item.State} at ${Date.now() - started} ms`);
    if (item.State === 'Running') {
      item.URL = await withTimeout(engineUrl(host), timeoutMs, 'url');
      item.ActiveHost = isActive(name, item.URL);
      item.Active = item.ActiveHost ? '*' : '-';
      if (asksEngine(item.URL)) {
        try {
          item.DockerVersion = `v${await (asked ?? askEngine(item.URL))}`;
        } catch (err) {
          item.Error = `Unable to query docker version: ${(err as Error).message}`;
        }
      }
    }
  } catch (err) {
    item.State = item.State || 'Error';
    item.Error = (err as Error).message;
  }
  item.ResponseTime = `${Date.now() - started}ms`;
  return item;
}
