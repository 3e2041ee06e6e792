// `port-forward`: local ports to the machine's ports through its SSH connection, until
// interrupted, or in the background (-d) with a pid file in the machine's folder so that
// `--stop` ends exactly the process it started, never another one that reused the pid.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { MachineError, progName } from '../errors.js';
import type { Logger } from '../log.js';
import { machineFiles } from '../store/machine-files.js';
import { writeFileAtomic } from '../sys/atomic.js';
import { bindForwards, serveForwards, type Forward } from '../ssh/forward.js';

export { parseForwards } from '../ssh/forward.js';
import type { Host } from './host.js';
import { assertRunning } from './lifecycle.js';
import { connectHost } from './ssh.js';

const pidFile = (host: Host) => machineFiles(host.store.machineDir(host.name)).portForwardPid;
export const forwardLog = (host: Host): string => machineFiles(host.store.machineDir(host.name)).portForwardLog;

export const describeForwards = (name: string, forwards: Forward[]): string =>
  forwards.map((f) => `127.0.0.1:${f.local} -> ${name}:${f.remote}`).join(', ');

interface Running {
  pid: number;
  forwards: string;
}

/** The background forwarder of this machine, if its process is alive and still ours. */
export function runningForward(host: Host): Running | undefined {
  let rec: Running;
  try {
    rec = JSON.parse(readFileSync(pidFile(host), 'utf8')) as Running;
  } catch {
    return undefined;
  }
  try {
    // The pid alone could be another process by now: its command line must be ours.
    const cmdline = readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8');
    return cmdline.includes('port-forward') && cmdline.includes(host.name) ? rec : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Binds the local ports (all or none), connects, and forwards until the signal aborts (Ctrl-C,
 * --stop's SIGTERM) or the connection is lost, which is an error naming the machine.
 */
export async function forwardPorts(
  host: Host,
  forwards: Forward[],
  opts: { log: Logger; signal: AbortSignal; onReady: () => Promise<void> | void },
): Promise<void> {
  await assertRunning(host);
  const servers = await bindForwards(forwards);
  try {
    const session = await connectHost(host, opts.log, { signal: opts.signal });
    try {
      serveForwards(servers, forwards, session, (l) => opts.log.debug(l));
      await opts.onReady();
      const aborted = new Promise<undefined>((resolve) => {
        if (opts.signal.aborted) resolve(undefined);
        opts.signal.addEventListener('abort', () => resolve(undefined), { once: true });
      });
      const lost = await Promise.race([aborted, session.whenLost()]);
      if (lost) throw new MachineError(`The SSH connection to "${host.name}" was lost (${lost.message}): port forwarding stopped`);
    } finally {
      session.close();
    }
  } finally {
    for (const s of servers) s.close();
  }
}

/** The background forwarder records itself once its ports are bound and connected. */
export async function recordForward(host: Host, forwards: Forward[]): Promise<void> {
  await writeFileAtomic(pidFile(host), JSON.stringify({ pid: process.pid, forwards: describeForwards(host.name, forwards) }), 0o600);
}

export async function clearForward(host: Host): Promise<void> {
  const rec = (() => {
    try {
      return JSON.parse(readFileSync(pidFile(host), 'utf8')) as Running;
    } catch {
      return undefined;
    }
  })();
  // Only the process the file names removes it (a newer forwarder may have replaced it).
  if (!rec || rec.pid === process.pid) await rm(pidFile(host), { force: true });
}

/** --stop: ends the machine's background forwarder and waits until it is gone. */
export async function stopForward(host: Host): Promise<string> {
  const rec = runningForward(host);
  if (!rec) {
    await rm(pidFile(host), { force: true });
    throw new MachineError(`No port forward of "${host.name}" is running in the background (start one with "${progName()} port-forward -d ${host.name} [LOCAL:]REMOTE")`);
  }
  process.kill(rec.pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && runningForward(host)) await new Promise((r) => setTimeout(r, 100));
  if (runningForward(host)) throw new MachineError(`The port forwarder of "${host.name}" (pid ${rec.pid}) did not stop within 10 s`);
  await rm(pidFile(host), { force: true });
  return rec.forwards;
}
