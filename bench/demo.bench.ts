import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, inject, it } from 'vitest';
import { tempStore } from '../test/helpers/cli.js';
import { recordAgainstTarget } from './results.js';

const skipReason = inject('e2eSkipReason');
const DEMO = resolve(import.meta.dirname, '..', 'dist', 'demo', 'main.cjs');

/** `npm run demo` as a user runs it (the built script), against the bench's engine; its output is kept for a failure. */
function demo(env: NodeJS.ProcessEnv, args: string[] = []): Promise<{ code: number; ms: number; out: string }> {
  const t = Date.now();
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [DEMO, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', rej);
    child.on('exit', (code) => res({ code: code ?? 1, ms: Date.now() - t, out }));
  });
}

const must = (r: { code: number; out: string }, what: string) => {
  if (r.code !== 0) throw new Error(`${what} failed:\n${r.out.split('\n').slice(-15).join('\n')}`);
};

describe.skipIf(skipReason)('npm run demo', () => {
  // The bench's private engine stands in for the machine's own; the demo would otherwise
  // start a dockerd of its own first (a few seconds, on the first run only).
  const engine = { MACHINE_DOCKER_HOST: inject('dockerHost') };

  it('a second run, with its caches warm', async () => {
    const env = { ...engine, MACHINE_STORAGE_PATH: join(await tempStore('machine-bench-demo-'), 'store') };
    try {
      const first = await demo(env);
      must(first, 'the first run');
      const second = await demo(env);
      must(second, 'the second run');
      recordAgainstTarget('demo-second', second.ms / 1000, 's', 20,
        `reuses the swarm of the run before (all three nodes up and in it), clears what its story left and tells the whole story again; the first run took ${(first.ms / 1000).toFixed(1)} s from an empty store`,
      );
    } finally {
      await demo(env, ['--clean']);
    }
  });

  it('a first run with no caches (an empty HOME: the rootfs is built from the Debian mirror)', async () => {
    const home = await mkdtemp(join(tmpdir(), 'machine-bench-demo-home-'));
    const env = { ...engine, HOME: home, MACHINE_STORAGE_PATH: join(home, '.docker', 'machine') };
    try {
      const first = await demo(env);
      must(first, 'the first run');
      const lines = first.out.split('\n').filter((l) => /^\[\s*[\d.]+s\]/.test(l)).length;
      recordAgainstTarget('demo-first', first.ms / 60_000, 'min', 5,
        `${lines} steps printed; the packages (docker.io, debootstrap) were installed already, and the bench's engine ran`,
      );
    } finally {
      await demo(env, ['--clean']);
      await rm(home, { recursive: true, force: true });
    }
  });
});
