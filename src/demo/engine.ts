import { execFile, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * dockerd's own bridge, made beforehand (dockerd does not create a named one): sharing
 * docker0 with another engine would re-address that engine's bridge.
 */
async function ensureBridge(name: string, cidr: string): Promise<string> {
  const ip = (args: string[]) => run('ip', args).catch((err: Error) => ({ stdout: '', stderr: err.message }));
  if (!(await ip(['link', 'show', name])).stdout) await run('ip', ['link', 'add', 'name', name, 'type', 'bridge']);
  if (!(await ip(['-o', '-4', 'addr', 'show', 'dev', name])).stdout.includes(cidr.split('/')[0]!)) await ip(['addr', 'add', cidr, 'dev', name]);
  await ip(['link', 'set', name, 'up']);
  return name;
}

export async function engineAnswers(host: string): Promise<boolean> {
  try {
    await run('docker', ['-H', host, 'version', '--format', '{{.Server.Version}}'], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * A dockerd for the demo's machines when none answers on the default socket: its own
 * socket, data root and bridge, detached so the machines outlive the demo process.
 */
export async function startDemoEngine(stateDir: string): Promise<{ host: string; pid: number }> {
  await mkdir(stateDir, { recursive: true });
  const socket = join(stateDir, 'docker.sock');
  const host = `unix://${socket}`;
  const pidFile = join(stateDir, 'dockerd.pid');
  if (existsSync(pidFile) && (await engineAnswers(host))) return { host, pid: Number(readFileSync(pidFile, 'utf8')) };
  const log = openSync(join(stateDir, 'dockerd.log'), 'a');
  const child = spawn(
    'dockerd',
    ['--host', host, '--data-root', join(stateDir, 'data'), '--exec-root', join(stateDir, 'exec'), '--pidfile', pidFile, '--bridge', await ensureBridge('machine-demo0', '10.214.0.1/24')],
    { detached: true, stdio: ['ignore', log, log] },
  );
  child.unref();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await engineAnswers(host)) return { host, pid: child.pid! };
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`dockerd did not start; see ${join(stateDir, 'dockerd.log')}`);
}

export function stopDemoEngine(stateDir: string): boolean {
  const pidFile = join(stateDir, 'dockerd.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  try {
    process.kill(pid, 'SIGTERM');
    return true;
  } catch {
    return false;
  }
}
