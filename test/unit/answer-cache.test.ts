import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { recordRun, type Recording } from '../../src/cli/answer-record.js';
import { machineCacheDir } from '../../src/cli/cache-files.js';
import { machine, repoRoot, tempStore } from '../helpers/cli.js';
import { standInMachine, type StandInMachine } from '../helpers/engine-standin.js';
import { tlsSessionsFile } from '../../src/store/paths.js';

// The answer cache (src/cli/answer-cache.ts), through the built CLI as a user runs it. A
// test proves an answer came from the cache by planting a different one in its record: the
// command itself could never print it.

const run = promisify(execFile);
const answersIn = (xdg: string) => join(machineCacheDir({ XDG_CACHE_HOME: xdg }), 'answers');
const records = async (xdg: string) => (await readdir(answersIn(xdg)).catch(() => [])).sort();
const PLANTED = 'PLANTED ANSWER\n';

/** Replaces the answer in every record under xdg with PLANTED. */
async function plant(xdg: string): Promise<void> {
  const names = await records(xdg);
  expect(names.length).toBeGreaterThan(0);
  for (const n of names) {
    const file = join(answersIn(xdg), n);
    const a = JSON.parse(await readFile(file, 'utf8'));
    a.out = [[1, Buffer.from(PLANTED).toString('base64')]];
    await writeFile(file, JSON.stringify(a));
  }
}

/** Rewrites a file with the same bytes, as an editor or a save by another machine would. */
async function rewrite(file: string): Promise<void> {
  await writeFile(`${file}.new`, await readFile(file));
  await rename(`${file}.new`, file);
}

/** A TCP listener on a free loopback port, standing in for a machine's sshd. */
async function listener(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

describe('the answer cache of env, config, url, ip and active', () => {
  let store: string;
  let port: number;
  let server: Server;
  beforeAll(async () => {
    store = await tempStore('machine-answers-');
    expect((await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:9', 'n1'])).code).toBe(0);
    // A generic machine's record, made by hand: its state is a TCP probe of its SSH port.
    ({ server, port } = await listener());
    const n1 = JSON.parse(await readFile(join(store, 'machines', 'n1', 'config.json'), 'utf8'));
    const g1 = structuredClone(n1);
    g1.Name = 'g1';
    g1.DriverName = 'generic';
    g1.Driver = { ...n1.Driver, MachineName: 'g1', IPAddress: '127.0.0.1', SSHPort: port, SSHUser: 'root' };
    delete g1.Driver.URL;
    await mkdir(join(store, 'machines', 'g1'));
    await writeFile(join(store, 'machines', 'g1', 'config.json'), JSON.stringify(g1));
    // Files changed within 2 s of a run are not trusted to show a later change (git's racy
    // rule), so nothing would be recorded yet.
    await sleep(2100);
    return () => void server.close();
  });

  it('is a miss for other arguments, a variable the command reads, or without the cache', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const env = { XDG_CACHE_HOME: xdg, SHELL: '/bin/bash' };
    const bashEnv = await machine(store, ['env', 'n1'], { env });
    expect(bashEnv.stdout).toContain('export DOCKER_HOST="tcp://127.0.0.1:9"');
    await plant(xdg);
    expect((await machine(store, ['env', 'n1'], { env })).stdout).toBe(PLANTED);
    // A variable env never reads is no reason to run it again; its shell is.
    expect((await machine(store, ['env', 'n1'], { env: { ...env, SOMETHING_ELSE: '1' } })).stdout).toBe(PLANTED);
    expect((await machine(store, ['env', 'n1'], { env: { ...env, SHELL: '/usr/bin/fish' } })).stdout).toContain('set -gx DOCKER_HOST "tcp://127.0.0.1:9";');
    expect((await machine(store, ['env', '--shell', 'bash', 'n1'], { env })).stdout).toBe(bashEnv.stdout);
    expect((await machine(store, ['env', 'n1'], { env: { ...env, MACHINE_ANSWER_CACHE: '0' } })).stdout).toBe(bashEnv.stdout);
  });

  it('keeps no answer of a failure, a debug run, a command that writes, or ls with response times', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const docker = await mkdtemp(join(tmpdir(), 'machine-docker-config-'));
    const env = { XDG_CACHE_HOME: xdg, DOCKER_CONFIG: docker };
    expect((await machine(store, ['env', 'nosuch'], { env })).code).not.toBe(0);
    expect((await machine(store, ['--debug', 'url', 'n1'], { env })).code).toBe(0);
    expect((await machine(store, ['url', 'n1'], { env: { ...env, MACHINE_DEBUG: '1' } })).code).toBe(0);
    // --context makes (or updates) a docker context: a write, so not an answer to keep.
    const viaContext = await machine(store, ['env', '--context', 'n1'], { env });
    expect(viaContext.code).toBe(0);
    expect(viaContext.stdout).toContain('DOCKER_CONTEXT');
    expect(JSON.parse((await machine(store, ['ls', '-t', '1', '--format', 'json'], { env })).stdout)).toHaveLength(2);
    expect((await machine(store, ['ls', '-t', '1', '--format', '{{.Name}} {{.ResponseTime}}'], { env })).code).toBe(0);
    expect(await records(xdg)).toEqual([]);
  });

  it('probes again for active: a machine that stopped answering is not active', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const env = { XDG_CACHE_HOME: xdg, DOCKER_HOST: 'tcp://127.0.0.1:2376' };
    expect(await machine(store, ['active'], { env })).toMatchObject({ code: 0, stdout: 'g1\n' });
    await plant(xdg);
    expect((await machine(store, ['active'], { env })).stdout).toBe(PLANTED);
    server.close();
    await once(server, 'close');
    expect(await machine(store, ['active'], { env })).toMatchObject({ code: 1, stdout: '', stderr: 'No active host found\n' });
    // And when it answers again, so is it (its record was saved anew: a miss).
    ({ server, port } = await listener().then(async (l) => {
      const file = join(store, 'machines', 'g1', 'config.json');
      const g1 = JSON.parse(await readFile(file, 'utf8'));
      g1.Driver.SSHPort = l.port;
      await writeFile(file, JSON.stringify(g1));
      return l;
    }));
    expect(await machine(store, ['active'], { env })).toMatchObject({ code: 0, stdout: 'g1\n' });
  });

  it('answers for a store whose path is not Latin-1', async () => {
    const other = await tempStore('machine-answers-张-');
    expect((await machine(other, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:9', 'n1'])).code).toBe(0);
    await sleep(2100);
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    expect((await machine(other, ['url', 'n1'], { env: { XDG_CACHE_HOME: xdg } })).stdout).toBe('tcp://127.0.0.1:9\n');
    await plant(xdg);
    expect((await machine(other, ['url', 'n1'], { env: { XDG_CACHE_HOME: xdg } })).stdout).toBe(PLANTED);
  });

  it('goes with its installation: a new record removes those of copies of machine that are gone', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const dist = await mkdtemp(join(tmpdir(), 'machine-dist-'));
    await cp(join(repoRoot, 'dist'), dist, { recursive: true });
    // A file changed within 2 s of a run is not trusted, and the copy's main.cjs is read.
    await sleep(2100);
    const copy = (args: string[]) =>
      run(process.execPath, [join(dist, 'cli', 'main.cjs'), ...args], { env: { ...process.env, MACHINE_STORAGE_PATH: store, XDG_CACHE_HOME: xdg } });
    expect((await copy(['url', 'n1'])).stdout).toBe('tcp://127.0.0.1:9\n');
    const ofCopy = await records(xdg);
    expect(ofCopy).toHaveLength(1);
    // While the copy is there, a record added by this installation leaves the copy's alone.
    expect((await machine(store, ['url', 'n1'], { env: { XDG_CACHE_HOME: xdg } })).code).toBe(0);
    expect(await records(xdg)).toHaveLength(2);
    await rm(dist, { recursive: true });
    // Replacing a record does not look (the same url again, after its file changed)...
    await rewrite(join(store, 'machines', 'n1', 'config.json'));
    await sleep(2100);
    expect((await machine(store, ['url', 'n1'], { env: { XDG_CACHE_HOME: xdg } })).code).toBe(0);
    expect(await records(xdg)).toContain(ofCopy[0]);
    // ...adding one does.
    expect((await machine(store, ['ip', 'n1'], { env: { XDG_CACHE_HOME: xdg } })).code).toBe(0);
    const left = await records(xdg);
    expect(left).toHaveLength(2);
    expect(left).not.toContain(ofCopy[0]);
  });

  // Last: a file changed now leaves what reads it unrecorded for 2 s.
  it('gives env its answer again while nothing it read changed, and runs it again once something did', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const env = { XDG_CACHE_HOME: xdg };
    const first = await machine(store, ['env', 'n1'], { env });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('export DOCKER_HOST="tcp://127.0.0.1:9"');
    expect(await records(xdg)).toEqual([expect.stringMatching(/^[0-9a-f]{16}\.json$/)]);
    await plant(xdg);
    expect(await machine(store, ['env', 'n1'], { env })).toMatchObject({ code: 0, stdout: PLANTED, stderr: '' });

    // The machine's record is saved again (same bytes, new file): the command runs.
    await rewrite(join(store, 'machines', 'n1', 'config.json'));
    expect(await machine(store, ['env', 'n1'], { env })).toMatchObject({ code: 0, stdout: first.stdout });
  });
});

describe('the answer cache of ls', () => {
  let store: string;
  let g1: StandInMachine;
  const ls = async (xdg: string, args: string[] = []) => machine(store, ['ls', ...args], { env: { XDG_CACHE_HOME: xdg, DOCKER_HOST: '' } });
  beforeAll(async () => {
    store = await tempStore('machine-answers-ls-');
    g1 = await standInMachine(store, 'g1');
    // The first engine call makes the store's cache folder (its TLS sessions), which changes
    // the store's folder, an input of every answer: once per store.
    expect((await ls(await mkdtemp(join(tmpdir(), 'machine-xdg-')))).code).toBe(0);
    await sleep(2100);
    return () => g1.close();
  });

  it('asks the engine again: another version, or no answer, and ls runs', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const first = await ls(xdg);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(/^g1 +- +generic +Running +tcp:\/\/127\.0\.0\.1:\d+ +v26\.1\.5\+dfsg1 *$/m);
    const record = JSON.parse(await readFile(join(answersIn(xdg), (await records(xdg))[0]!), 'utf8'));
    expect(record.engines).toEqual([['127.0.0.1', expect.any(Number), join(g1.dir, 'ca.pem'), join(g1.dir, 'cert.pem'), join(g1.dir, 'key.pem'), '26.1.5+dfsg1']]);
    // The TLS sessions ls keeps change at every call and change no answer: not an input.
    expect(record.inputs.map((i: [string, string]) => i[0])).not.toContain(tlsSessionsFile(store));
    await plant(xdg);
    expect((await ls(xdg)).stdout).toBe(PLANTED);
    expect((await ls(xdg)).stdout).toBe(PLANTED);

    await g1.startEngine('27.0.3');
    expect((await ls(xdg)).stdout).toMatch(/ v27\.0\.3 *$/m);
    await plant(xdg);
    expect((await ls(xdg)).stdout).toBe(PLANTED);

    await g1.stopEngine();
    const down = await ls(xdg);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/^g1 .*Running.*Unknown +Unable to query docker version: connect ECONNREFUSED/m);
    // An answer with an engine error is not kept: the next run asks again.
    expect(JSON.parse(await readFile(join(answersIn(xdg), (await records(xdg))[0]!), 'utf8')).out).toEqual([[1, Buffer.from(PLANTED).toString('base64')]]);
    // The engine answers again as it did when the answer was kept: it is given again.
    await g1.startEngine('27.0.3');
    expect((await ls(xdg)).stdout).toBe(PLANTED);

    // The same version, but over the 2 s a check that passed gets: ls runs, as it would for a
    // stalled engine, instead of waiting on the cache's check and then on its own.
    await g1.startEngine((_req, res) => {
      res.setHeader('Server', 'Docker/27.0.3 (linux)');
      setTimeout(() => res.end('OK'), 2500);
    });
    expect((await ls(xdg)).stdout).toMatch(/ v27\.0\.3 *$/m);
    await g1.startEngine('27.0.3');
  }, 30_000);

  it('asks no engine of an answer kept for another store', async () => {
    // `ls` in two stores is the same command line: one record, whose checks point at the
    // first store's machines. Run in the second store, it must not connect to them.
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    expect((await ls(xdg)).code).toBe(0);
    const [name] = await records(xdg);
    const file = join(answersIn(xdg), name!);
    const record = JSON.parse(await readFile(file, 'utf8'));
    expect(record.engines).toHaveLength(1);
    // Its engine check and probes, pointed at a listener that counts who connects.
    let connections = 0;
    const counter = createServer((s) => (connections++, s.destroy()));
    counter.listen(0, '127.0.0.1');
    await once(counter, 'listening');
    const port = (counter.address() as { port: number }).port;
    record.engines[0][1] = port;
    record.probes = record.probes.map((p: [string, number, number, boolean]) => ['127.0.0.1', port, p[2], p[3]]);
    await writeFile(file, JSON.stringify(record));
    try {
      const other = await tempStore('machine-answers-other-');
      const elsewhere = await machine(other, ['ls'], { env: { XDG_CACHE_HOME: xdg, DOCKER_HOST: '' } });
      expect(elsewhere).toMatchObject({ code: 0, stdout: 'NAME   ACTIVE   DRIVER   STATE   URL   SWARM   DOCKER   ERRORS\n' });
      await sleep(300);
      expect(connections).toBe(0);
      // The counter does count: in its own store the record's checks are made (and fail: ls runs).
      expect((await ls(xdg)).stdout).toMatch(/^g1 .*Running/m);
      await sleep(300);
      expect(connections).toBeGreaterThan(0);
    } finally {
      counter.close();
    }
  });

  it('keeps no answer of ls of more than 16 machines', async () => {
    const xdg = await mkdtemp(join(tmpdir(), 'machine-xdg-'));
    const record = await readFile(join(g1.dir, 'config.json'), 'utf8');
    for (let i = 0; i < 16; i++) {
      await mkdir(join(store, 'machines', `n${i}`));
      await writeFile(join(store, 'machines', `n${i}`, 'config.json'), record.replaceAll('"g1"', `"n${i}"`));
    }
    await sleep(2100);
    expect((await ls(xdg)).stdout.split('\n').filter((l) => l.includes(' Running '))).toHaveLength(17);
    expect(await records(xdg)).toEqual([]);
  });
});

describe('what a recording keeps', () => {
  // In this process: package.json is old enough to pass the racy rule.
  const input = join(repoRoot, 'package.json');
  const realFs = process.getBuiltinModule('node:fs');
  const realNet = process.getBuiltinModule('node:net');
  const attempt = async (act: (fs: typeof realFs, net: typeof realNet, r: Recording) => void | Promise<void>) => {
    const file = join(await mkdtemp(join(tmpdir(), 'machine-answer-')), 'a.json');
    const r = recordRun(file, 'key');
    try {
      const fs = r.watch.builtin('node:fs', realFs) as typeof realFs;
      const net = r.watch.builtin('node:net', realNet) as typeof realNet;
      fs.readFileSync(input);
      r.tap.answerable();
      await act(fs, net, r);
    } finally {
      r.finish(0);
    }
    return existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : undefined;
  };

  it('stops watching at once when the command is not answerable, and keeps nothing', async () => {
    const [env, getBuiltin, kill] = [process.env, process.getBuiltinModule, process.kill];
    const file = join(await mkdtemp(join(tmpdir(), 'machine-answer-')), 'a.json');
    const r = recordRun(file, 'key');
    expect(process.env).not.toBe(env);
    r.tap.pass();
    expect([process.env, process.getBuiltinModule, process.kill]).toEqual([env, getBuiltin, kill]);
    expect(r.watch.builtin('node:fs', realFs)).toBe(realFs);
    r.tap.answerable();
    r.finish(0);
    expect(existsSync(file)).toBe(false);
  });

  it('keeps a run that only read, with what it read and wrote to stdout', async () => {
    const a = await attempt((fs) => void fs.writeSync(1, Buffer.alloc(0)));
    expect(a.inputs.map((i: [string, string]) => i[0])).toContain(input);
    expect(a.out).toEqual([[1, '']]);
  });

  it('keeps nothing of a run that wrote a file, required another built-in or connected beside its probes', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'machine-answer-'));
    expect(await attempt((fs) => fs.writeFileSync(join(tmp, 'x'), 'x'))).toBeUndefined();
    expect(await attempt((fs) => void fs.writeSync(3, Buffer.alloc(0)).toString().length)).toBeUndefined();
    // A write that failed (a reader gone) left the answer cut short.
    expect(await attempt((fs) => void expect(() => fs.writeSync(1 << 20, Buffer.from('x'))).toThrow())).toBeUndefined();
    expect(await attempt((_fs, _net, r) => void r.watch.builtin('node:child_process', {}))).toBeUndefined();
    expect(await attempt((_fs, _net, r) => r.watch.foreign('ssh2'))).toBeUndefined();
    expect(await attempt(() => void process.getBuiltinModule('node:os'))).toBeUndefined();
    expect(await attempt(() => void process.kill(process.pid, 0))).toBeUndefined();
    expect(await attempt(() => void process.env.HOME)).toMatchObject({ env: [['HOME', expect.stringMatching(/^[0-9a-f]{16}$/)]] });
    expect(await attempt(() => void Object.keys(process.env))).toBeUndefined();
    expect(await attempt(() => void process.stdout.write(''))).toBeUndefined();
    expect(await attempt((_fs, net) => void net.createServer)).toBeUndefined();
    const connected = async (report: boolean) =>
      attempt(async (_fs, net, r) => {
        const { server, port } = await listener();
        const s = net.connect({ host: '127.0.0.1', port });
        await once(s, 'connect');
        s.destroy();
        server.close();
        if (report) r.tap.probed('127.0.0.1', port, 1000, true);
      });
    expect(await connected(false)).toBeUndefined();
    expect((await connected(true)).probes).toHaveLength(1);
  });

  it('keeps an engine call only as reported, and no other use of https, tls or crypto', async () => {
    const [realHttps, realTls, realCrypto] = (['node:https', 'node:tls', 'node:crypto'] as const).map((id) => process.getBuiltinModule(id)) as [
      typeof import('node:https'),
      typeof import('node:tls'),
      typeof import('node:crypto'),
    ];
    const call: [string, number, string, string, string, string] = ['127.0.0.1', 9, 'ca.pem', 'cert.pem', 'key.pem', '27.0.3'];
    const requested = (report: 'answered' | 'dropped' | 'no') =>
      attempt(async (_fs, _net, r) => {
        const https = r.watch.builtin('node:https', realHttps) as typeof realHttps;
        const req = https.request({ host: '127.0.0.1', port: 9, agent: false });
        req.on('error', () => undefined).destroy();
        if (report !== 'no') r.tap.engineCall(report === 'answered' ? call : undefined);
      });
    expect(await requested('no')).toBeUndefined();
    expect(await requested('answered')).toMatchObject({ engines: [call] });
    expect(await requested('dropped')).toMatchObject({ engines: [] });
    expect(await attempt((_fs, _net, r) => void (r.watch.builtin('node:https', realHttps) as typeof realHttps).get)).toBeUndefined();
    expect(await attempt((_fs, _net, r) => void (r.watch.builtin('node:tls', realTls) as typeof realTls).createServer)).toBeUndefined();
    // An engine call made on a TLS socket counts as one made through https.
    const connected = (report: boolean) =>
      attempt(async (_fs, _net, r) => {
        const tls = r.watch.builtin('node:tls', realTls) as typeof realTls;
        tls.connect({ host: '127.0.0.1', port: 9 }).on('error', () => undefined).destroy();
        if (report) r.tap.engineCall(call);
      });
    expect(await connected(false)).toBeUndefined();
    expect(await connected(true)).toMatchObject({ engines: [call] });
    expect(await attempt((_fs, _net, r) => void (r.watch.builtin('node:crypto', realCrypto) as typeof realCrypto).randomBytes)).toBeUndefined();
    expect(await attempt((_fs, _net, r) => void (r.watch.builtin('node:crypto', realCrypto) as typeof realCrypto).createHash('sha256').digest())).toBeDefined();
    // A file read only to go faster is no input.
    expect((await attempt((_fs, _net, r) => r.tap.speedOnly(input))).inputs.map((i: [string, string]) => i[0])).not.toContain(input);
  });
});
