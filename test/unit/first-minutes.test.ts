// What a new user meets first (#18): help that says what to do next, typos answered with
// the closest command or flag, unknown drivers refused everywhere, and a quiet build.
import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machine, repoRoot, tempStore } from '../helpers/cli.js';
import { closestMatch } from '../../src/cli/suggest.js';

let store: string;
beforeAll(async () => {
  store = await tempStore('machine-first-');
});
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

// No plugin of the developer's own PATH may leak into what the tests expect.
const cleanEnv = { PATH: '/usr/bin:/bin', MACHINE_DRIVER: '', MACHINE_DRIVER_PATH: '' };

describe('help', () => {
  it('machine with no arguments prints the command list and exits 0', async () => {
    const r = await machine(store, [], { env: cleanEnv });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: machine \[OPTIONS\] COMMAND/);
    expect(r.stdout).toMatch(/^ {2}create +Create a machine$/m);
  });

  it('help COMMAND and COMMAND --help print the same text', async () => {
    for (const cmd of ['ls', 'create', 'env', 'swarm']) {
      const a = await machine(store, ['help', cmd], { env: cleanEnv });
      const b = await machine(store, [cmd, '--help'], { env: cleanEnv });
      expect([a.code, b.code]).toEqual([0, 0]);
      expect(a.stdout).toBe(b.stdout);
      expect(a.stdout).toMatch(new RegExp(`^Usage: machine ${cmd} `));
    }
  });

  it('create --help without a driver: common flags, the drivers there are, and how to see one driver\'s flags', async () => {
    const r = await machine(store, ['create', '--help'], { env: cleanEnv });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: machine create \[OPTIONS\] NAME$/m);
    expect(r.stdout).toContain('--engine-install-url');
    expect(r.stdout).not.toMatch(/virtualbox-memory|Retired/);
    expect(r.stdout).toMatch(/built in: amazonec2, azure, docker, generic, none, qemu, virtualbox/);
    expect(r.stdout).toContain("Run 'machine create -d DRIVER --help' to see that driver's flags.");
  });

  it('lists the plugins it finds, binaries on PATH and JS plugins in MACHINE_DRIVER_PATH', async () => {
    const bin = join(store, 'bin');
    const js = join(store, 'js');
    await mkdir(bin, { recursive: true });
    await mkdir(js, { recursive: true });
    await writeFile(join(bin, 'docker-machine-driver-hetzner'), '#!/bin/sh\nexit 1\n');
    await chmod(join(bin, 'docker-machine-driver-hetzner'), 0o755);
    // Not executable: lookup would not use it, so help does not list it.
    await writeFile(join(bin, 'docker-machine-driver-broken'), '');
    await writeFile(join(js, 'machine-driver-static.mjs'), 'export default {}\n');
    const r = await machine(store, ['create', '--help'], { env: { ...cleanEnv, PATH: `${bin}:/usr/bin:/bin`, MACHINE_DRIVER_PATH: js } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^ +hetzner +${bin}/docker-machine-driver-hetzner$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^ +static +${js}/machine-driver-static.mjs$`, 'm'));
    expect(r.stdout).not.toContain('broken');
  });

  it('create -d DRIVER --help shows that driver\'s flags with the common ones', async () => {
    const r = await machine(store, ['create', '-d', 'docker', '--help'], { env: cleanEnv });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--docker-image');
    expect(r.stdout).toContain('--engine-install-url');
    expect(r.stdout).not.toContain('--virtualbox-memory');
    // MACHINE_DRIVER names a driver as -d does.
    const env = await machine(store, ['create', '--help'], { env: { ...cleanEnv, MACHINE_DRIVER: 'generic' } });
    expect(env.stdout).toContain('--generic-ip-address');
  });
});

describe('bad input', () => {
  const oneLine = (r: { code: number; stdout: string; stderr: string }) => {
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    return r.stderr.trim();
  };

  it('an unknown driver is an error, with --help too', async () => {
    for (const args of [['create', '-d', 'nosuch', '--help'], ['create', '-d', 'nosuch', 'x'], ['help', 'nosuch']]) {
      const line = oneLine(await machine(store, args, { env: cleanEnv }));
      expect(line).toMatch(/nosuch/);
    }
    expect(existsSync(join(store, 'machines', 'x'))).toBe(false);
  });

  it('a mistyped command or flag gets the closest one', async () => {
    expect(oneLine(await machine(store, ['crete'], { env: cleanEnv }))).toBe(
      `machine: 'crete' is not a machine command. Did you mean "create"? See 'machine help'.`,
    );
    expect(oneLine(await machine(store, ['ls', '--fliter', 'name=x'], { env: cleanEnv }))).toBe(
      'flag provided but not defined: --fliter. Did you mean --filter? (see "machine ls --help")',
    );
    expect(oneLine(await machine(store, ['create', '-d', 'none', '--engine-labl', 'a=b', 'x'], { env: cleanEnv }))).toMatch(/Did you mean --engine-label\?/);
    // Nothing close: no guess.
    expect(oneLine(await machine(store, ['frobnicate'], { env: cleanEnv }))).toBe(`machine: 'frobnicate' is not a machine command. See 'machine help'.`);
  });

  it('guesses only what is close', () => {
    const cmds = ['create', 'rm', 'ls', 'start', 'stop', 'status', 'ssh', 'scp', 'env'];
    expect(closestMatch('crate', cmds)).toBe('create');
    expect(closestMatch('stpo', cmds)).toBe('stop');
    expect(closestMatch('l', cmds)).toBe('ls');
    expect(closestMatch('x', cmds)).toBeUndefined();
    expect(closestMatch('docker', cmds)).toBeUndefined();
  });
});

describe('build', () => {
  // A copy of the sources, so the build's `rm -rf dist` never touches the dist the other
  // tests run.
  it('npm run build prints nothing when it succeeds', async () => {
    const dir = await tempStore('machine-build-');
    try {
      const skip = new Set(['node_modules', 'dist', '.git', 'test', 'bench', 'drivers-test-fixtures']);
      for (const f of await readdir(repoRoot)) {
        if (!skip.has(f)) await cp(join(repoRoot, f), join(dir, f), { recursive: true });
      }
      await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
      const r = await new Promise<{ code: number; out: string }>((res, rej) => {
        const child = spawn('npm', ['run', '--silent', 'build'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', rej);
        child.on('close', (code) => res({ code: code ?? -1, out }));
      });
      expect(r.out).toBe('');
      expect(r.code).toBe(0);
      expect(existsSync(join(dir, 'dist', 'cli', 'main.cjs'))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
