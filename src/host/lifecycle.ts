import { HostAlreadyInStateError, HostNotRunningError, MachineError, progName } from '../errors.js';
import type { Logger } from '../log.js';
import { clientTls, saveDriverState, type Host } from './host.js';
import { refreshCertsIfMoved } from './provision.js';
import { followMachine } from './follow.js';
import { engineVersionOf } from './connection.js';
import { transportOf } from './transport.js';
import { waitForState } from './state.js';

// How long power operations wait for the driver's state, and then for the engine: a VM
// under TCG boots in minutes, a system container in seconds.
const STATE_TIMEOUT_MS = 5 * 60_000;
const KILL_TIMEOUT_MS = 60_000;
const ENGINE_TIMEOUT_MS = Number(process.env.MACHINE_ENGINE_WAIT_TIMEOUT ?? 300) * 1000;

/** Docker Machine's MustBeRunning: commands that need the machine up say so in one line. */
export async function assertRunning(host: Host): Promise<void> {
  if ((await host.driver.getState()) !== 'Running') throw new HostNotRunningError(host.name);
}

/**
 * Returns once dockerd answers over TLS, as Docker Machine's WaitForDocker did: a machine
 * that reads Running can still be booting its engine for seconds (a container) or minutes
 * (a VM under TCG), and the user's next `docker` command must work.
 */
export async function waitForEngine(host: Host, log: Logger, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  if (!host.driver.provisionable) return;
  const timeoutMs = opts.timeoutMs ?? ENGINE_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const tls = clientTls(host);
  const overSsh = transportOf(host.config.HostOptions.EngineOptions) === 'ssh';
  let delay = 200;
  let last = '';
  while (Date.now() < deadline) {
    opts.signal?.throwIfAborted();
    try {
      const budget = Math.min(5_000, Math.max(500, deadline - Date.now()));
      if (overSsh) await engineVersionOf(host, budget);
      // Loaded here, not at the top: provision imports this module, and the TLS stack costs it
      // 15 ms at start. GET /_ping: /version makes the engine run runc and docker-init.
      else await (await import('../engine/tls-api.js')).engineVersionByPing(await host.driver.getURL(), tls, budget, (l) => log.debug(l));
      return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 2_000);
  }
  throw new MachineError(
    `The Docker engine of "${host.name}" did not answer within ${Math.round(timeoutMs / 1000)} s (${last}): check it with "${progName()} ssh ${host.name} systemctl status docker"`,
  );
}

/** After the driver brought the machine up: keep its record and certificate current, then wait for dockerd. */
async function afterUp(host: Host, log: Logger, locked: boolean): Promise<void> {
  // Drivers learn new addresses and ports on start.
  await saveDriverState(host, { locked });
  await refreshCertsIfMoved(host, log);
  await waitForEngine(host, log);
  // A new address or port (a driver's new lease or forward) reaches its ssh entry and docker context.
  await followMachine(host, log);
}

/** `locked`: the caller already holds the machine's lock (upgrade starts a stopped machine under it). */
/**
 * A driver that cannot power its hosts (generic, none) says so for every power command,
 * whatever the state: "already running" would suggest it could have started it.
 */
async function refuseWithoutPowerControl(host: Host, action: 'start' | 'stop' | 'restart' | 'kill'): Promise<void> {
  if (host.driver.powerControl === false) await host.driver[action]();
}

export async function startHost(host: Host, log: Logger, opts: { locked?: boolean } = {}): Promise<void> {
  await refuseWithoutPowerControl(host, 'start');
  if ((await host.driver.getState()) === 'Running') throw new HostAlreadyInStateError(host.name, 'Running');
  await host.driver.start();
  await waitForState(host.driver, 'Running', STATE_TIMEOUT_MS);
  await afterUp(host, log, opts.locked ?? false);
}

/** stop and kill: the same path, the driver's gentle or abrupt way down. */
async function bringDown(host: Host, action: 'stop' | 'kill', timeoutMs: number): Promise<void> {
  await refuseWithoutPowerControl(host, action);
  if ((await host.driver.getState()) === 'Stopped') throw new HostAlreadyInStateError(host.name, 'Stopped');
  await host.driver[action]();
  await waitForState(host.driver, 'Stopped', timeoutMs);
  await saveDriverState(host);
}

export const stopHost = (host: Host): Promise<void> => bringDown(host, 'stop', STATE_TIMEOUT_MS);
export const killHost = (host: Host): Promise<void> => bringDown(host, 'kill', KILL_TIMEOUT_MS);

/** A stopped machine is started; a running one restarted through its driver (Docker Machine's rule). */
export async function restartHost(host: Host, log: Logger): Promise<void> {
  await refuseWithoutPowerControl(host, 'restart');
  if ((await host.driver.getState()) === 'Stopped') await host.driver.start();
  else await host.driver.restart();
  await waitForState(host.driver, 'Running', STATE_TIMEOUT_MS);
  await afterUp(host, log, false);
}
