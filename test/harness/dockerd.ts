import { spawn } from 'node:child_process';
import { existsSync, readFileSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sh } from './exec.js';

export const cacheDir = process.env.MACHINE_TEST_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'machine-test');
const stateDir = '/tmp/machine-e2e-dockerd';
const socket = join(stateDir, 'docker.sock');
export const e2eLabel = 'machine-e2e=1';

/** dockerd's --bridge must exist beforehand; make it (idempotent). */
export async function ensureBridge(name: string, cidr: string): Promise<string> {
  if ((await sh('ip', ['link', 'show', name])).code !== 0) {
    const add = await sh('ip', ['link', 'add', 'name', name, 'type', 'bridge']);
    if (add.code !== 0) throw new Error(`cannot create bridge ${name}: ${add.stderr.trim()}`);
  }
  const addrs = (await sh('ip', ['-o', '-4', 'addr', 'show', 'dev', name])).stdout;
  if (!addrs.includes(cidr.split('/')[0]!)) await sh('ip', ['addr', 'add', cidr, 'dev', name]);
  await sh('ip', ['link', 'set', name, 'up']);
  return name;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitReady(host: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await sh('docker', ['-H', host, 'version', '--format', '{{.Server.Version}}'])).code === 0) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/**
 * A dockerd of the tests' own: private socket, exec root and bridge; its data root lives in
 * the cache so imported images survive between runs.
 */
export async function startDockerd(): Promise<{ host: string; stop(): Promise<void> }> {
  await mkdir(stateDir, { recursive: true });
  const host = `unix://${socket}`;
  const pidFile = join(stateDir, 'dockerd.pid');
  let pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
  let ours = false;
  if (!(pid && alive(pid) && (await waitReady(host, 2000)))) {
    const log = openSync(join(stateDir, 'dockerd.log'), 'a');
    const child = spawn(
      'dockerd',
      [
        '--host', host,
        '--data-root', join(cacheDir, 'dockerd-root'),
        '--exec-root', join(stateDir, 'exec'),
        '--pidfile', pidFile,
        // A bridge and subnet of its own: two engines sharing docker0 re-address each
        // other's bridge. NAT stays on because hosts install packages from the Debian mirror.
        '--bridge', await ensureBridge('machine-e2e0', '10.213.0.1/24'),
      ],
      { detached: true, stdio: ['ignore', log, log] },
    );
    child.unref();
    pid = child.pid!;
    ours = true;
    if (!(await waitReady(host, 30_000))) {
      throw new Error(`dockerd did not start; see ${join(stateDir, 'dockerd.log')}`);
    }
  }
  // Containers left by a crashed earlier run.
  const stale = (await sh('docker', ['-H', host, 'ps', '-aq', '--filter', `label=${e2eLabel}`])).stdout.split('\n').filter(Boolean);
  if (stale.length) await sh('docker', ['-H', host, 'rm', '-f', '-v', ...stale]);
  return {
    host,
    async stop() {
      if (!ours || !alive(pid)) return;
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 20_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    },
  };
}
