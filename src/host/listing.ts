import { engineVersion } from '../engine/tls-api.js';
import { urlUsesTls } from './connection.js';
import { clientTls, loadHost, swarmLabel } from './host.js';
import type { Store } from '../store/store.js';
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

/** Every machine's state, checked in parallel, each bounded by timeoutMs. */
export async function listMachines(store: Store, timeoutMs: number, names?: string[]): Promise<ListItem[]> {
  const all = names ?? (await store.list());
  const activeUrl = process.env.DOCKER_HOST ?? '';
  return Promise.all(all.map((name) => describe(store, name, timeoutMs, activeUrl)));
}

async function describe(store: Store, name: string, timeoutMs: number, activeUrl: string): Promise<ListItem> {
  const started = Date.now();
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
    const host = await loadHost(store, name);
    item.DriverName = host.config.DriverName;
    item.SwarmOptions = host.config.HostOptions.SwarmOptions;
    item.EngineOptions = host.config.HostOptions.EngineOptions;
    item.Labels = host.config.HostOptions.EngineOptions.Labels;
    item.Swarm = swarmLabel(host.config);
    item.State = await withTimeout((host.driver.quickState ?? host.driver.getState).call(host.driver), timeoutMs, 'state');
    if (item.State === 'Running') {
      item.URL = await withTimeout(host.driver.getURL(), timeoutMs, 'url');
      item.ActiveHost = activeUrl !== '' && activeUrl === item.URL;
      item.Active = item.ActiveHost ? '*' : '-';
      // An engine without TLS (none driver on :2375, ssh://) is not asked through the TLS client.
      if (host.driver.provisionable || urlUsesTls(item.URL)) {
        try {
          const v = await engineVersion(item.URL, clientTls(host), Math.max(1000, timeoutMs - (Date.now() - started)));
          item.DockerVersion = `v${v.Version}`;
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
