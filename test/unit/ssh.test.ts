import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HostKeyMismatchError, SshError } from '../../src/errors.js';
import {
  buildScpArgs,
  buildSshArgs,
  fingerprint,
  findSystemSsh,
  readPinned,
  scpRemote,
  SshAuthError,
  SshCommandError,
  SshDisconnectedError,
  SshSession,
  SshUnreachableError,
  waitForSsh,
  type HostKeyPolicy,
} from '../../src/ssh/index.js';

const sshdMissing =
  process.getuid?.() !== 0
    ? 'needs root to run sshd'
    : !existsSync('/usr/sbin/sshd')
      ? '/usr/sbin/sshd is missing (apt-get install openssh-server)'
      : !findSystemSsh('ssh-keygen')
        ? 'ssh-keygen is missing'
        : '';
const canRunSshd = sshdMissing === '';
if (!canRunSshd) console.warn(`SSH tests against a real sshd skipped: ${sshdMissing}`);

/**
 * A free port below Linux's ephemeral range (32768 up). A free port from that range can be
 * chosen as the local port of our own connect to it, and the socket then connects to itself:
 * a "closed" port that accepts and never says hello.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

function keygen(path: string): string {
  if (!existsSync(path)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', path]);
  return path;
}

/** The key blob in an OpenSSH .pub file. */
function pubBlob(path: string): Buffer {
  return Buffer.from(readFileSync(`${path}.pub`, 'utf8').split(' ')[1]!, 'base64');
}

/** A real OpenSSH server on loopback with its own host key, authorized keys and pid file. */
class Sshd {
  proc?: ChildProcess;
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  hostKey(name: string): string {
    return keygen(join(this.dir, `hostkey-${name}`));
  }

  async start(hostKeyName = 'a'): Promise<void> {
    // sshd refuses to start without its privilege separation directory.
    mkdirSync('/run/sshd', { recursive: true });
    const cfg = join(this.dir, `sshd_config-${this.port}`);
    writeFileSync(
      cfg,
      [
        `Port ${this.port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${this.hostKey(hostKeyName)}`,
        `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
        `PidFile ${join(this.dir, `sshd-${this.port}.pid`)}`,
        'StrictModes no',
        'UsePAM no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'Subsystem sftp internal-sftp',
        '',
      ].join('\n'),
    );
    const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`sshd did not start: ${log}`)), 10_000);
      proc.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('Server listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited ${code}: ${log}`));
      });
    });
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
}

/**
 * A TCP relay to the real sshd. Once told to hold, it keeps what the server sends and passes
 * it on in one write at most every holdMs: what a loaded client (or a busy network) sees, a
 * command's channel confirmation, output, exit status and close all in one read.
 */
async function batchingRelay(port: number): Promise<{ port: number; hold(ms: number): void; close(): void }> {
  let holdMs = 0;
  const { connect } = await import('node:net');
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    let held: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    upstream.on('data', (d: Buffer) => {
      if (!holdMs) return void client.write(d);
      held.push(d);
      timer ??= setTimeout(() => {
        timer = undefined;
        const all = Buffer.concat(held);
        held = [];
        if (!client.destroyed) client.write(all);
      }, holdMs);
    });
    client.on('data', (d: Buffer) => upstream.write(d));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', () => setTimeout(end, holdMs * 2));
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('relay has no port');
  return { port: addr.port, hold: (ms) => void (holdMs = ms), close: () => server.close() };
}

function runSsh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(findSystemSsh()!, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!canRunSshd)(`SSH against a real sshd on loopback${canRunSshd ? '' : ` (skipped: ${sshdMissing})`}`, () => {
  let dir: string;
  let key: string;
  let sshd: Sshd;
  let target: { host: string; port: number; user: string; privateKeyPath: string };
  let session: SshSession;
  const debugLines: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'machine-sshd-'));
    key = keygen(join(dir, 'client'));
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${key}.pub`));
    sshd = new Sshd(dir, await freePort());
    await sshd.start();
    target = { host: '127.0.0.1', port: sshd.port, user: 'root', privateKeyPath: key };
    session = await SshSession.connect(target, { debug: (l) => debugLines.push(l) });
  });
  afterAll(async () => {
    session?.close();
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('commands', () => {
    it('exec returns stdout, stderr and the exit code, and feeds stdin', async () => {
      expect(await session.exec('echo out; echo err >&2; exit 3')).toEqual({ stdout: 'out\n', stderr: 'err\n', code: 3 });
      expect(await session.exec('cat', { stdin: 'piped ✓ ünïcode' })).toEqual({ stdout: 'piped ✓ ünïcode', stderr: '', code: 0 });
      expect(await session.exec('head -c 3000000 /dev/zero | tr "\\0" x | wc -c')).toMatchObject({ stdout: '3000000\n', code: 0 });
      const big = Buffer.alloc(2_000_000, 'y');
      expect((await session.exec('wc -c', { stdin: big })).stdout.trim()).toBe('2000000');
    });

    it('reports a command killed by a signal as 128 + its number', async () => {
      expect(await session.exec('kill -9 $$')).toMatchObject({ code: 137, signal: 'SIGKILL' });
    });

    it('run returns stdout, and throws SshCommandError with the exit code and the last stderr line', async () => {
      expect(await session.run('echo ok')).toBe('ok\n');
      const err = await session.run('echo first >&2; echo "no such thing" >&2; exit 42').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SshCommandError);
      expect(err).toMatchObject({ code: 42, message: 'SSH command failed (exit 42): echo first >&2; echo "no such thing" >&2; exit 42: no such thing' });
    });

    it('a command over its timeout is reported at the timeout', async () => {
      const t = Date.now();
      const err = await session.exec('sleep 3', { timeoutMs: 500 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SshCommandError);
      expect(err).toMatchObject({ code: -1, message: 'SSH command timed out after 500 ms: sleep 3' });
      expect(Date.now() - t).toBeLessThan(2000);
      expect(await session.run('echo still usable')).toBe('still usable\n');
    });

    it('runs many commands at once on one connection (more than sshd MaxSessions)', async () => {
      const results = await Promise.all(Array.from({ length: 25 }, (_, i) => session.run(`sleep 0.2; echo ${i}`)));
      expect(results).toEqual(Array.from({ length: 25 }, (_, i) => `${i}\n`));
    });

    it('a dialogue answers what the command printed up to its marker, on the same channel', async () => {
      const seen: string[] = [];
      const r = await session.exec('sh -s', {
        stdin: 'echo facts-$$\necho @@done\n',
        dialogue: {
          marker: '@@done',
          reply: async (before) => {
            seen.push(before);
            // The same shell reads the reply: its PID is the one the facts named.
            return `echo applied-$$ "${before.trim()}"; exit 4\n`;
          },
        },
      });
      expect(seen).toHaveLength(1);
      const pid = /^facts-(\d+)\n$/.exec(seen[0]!)?.[1];
      expect(pid).toBeTruthy();
      expect(r).toEqual({ stdout: `facts-${pid}\n@@done\napplied-${pid} facts-${pid}\n`, stderr: '', code: 4 });
      // A reply that fails ends the command with its error; a command that never prints the
      // marker ends as it would without a dialogue.
      const failed = await session.exec('sh -s', { stdin: 'echo @@done\n', dialogue: { marker: '@@done', reply: () => Promise.reject(new Error('no plan')) } }).catch((e: unknown) => e);
      expect(failed).toMatchObject({ message: 'no plan' });
      expect(await session.exec('sh -s', { stdin: 'echo nothing; exit 2\n', dialogue: { marker: '@@done', reply: async () => 'echo never\n' } })).toEqual({ stdout: 'nothing\n', stderr: '', code: 2 });
      expect(await session.run('echo still usable')).toBe('still usable\n');
    });

    it("the connection's socket sends at once (TCP_NODELAY), for the login and for every command", async () => {
      // With Nagle's algorithm on, each small packet that follows an unacknowledged one waits
      // for the host's delayed ACK (40 ms on Linux): a login and a dialogue of a few round
      // trips took a quarter of a second longer. The option is set before the socket connects.
      const spy = vi.spyOn(Socket.prototype, 'setNoDelay');
      try {
        const fresh = await SshSession.connect(target);
        try {
          const calls = spy.mock.contexts.map((sock, i) => ({ sock: sock as Socket, on: spy.mock.calls[i]![0] }));
          const ours = calls.filter((c) => c.sock.remotePort === sshd.port);
          expect(ours.length).toBeGreaterThan(0);
          expect(ours.every((c) => c.on === true)).toBe(true);
          expect(await fresh.run('echo ok')).toBe('ok\n');
        } finally {
          fresh.close();
        }
      } finally {
        spy.mockRestore();
      }
    });

    it('debug sees each command and its exit code', async () => {
      debugLines.length = 0;
      await session.exec('echo quiet; exit 5');
      expect(debugLines[0]).toBe(`ssh root@127.0.0.1:${sshd.port}: echo quiet; exit 5`);
      expect(debugLines[1]).toMatch(new RegExp(`^ssh root@127\\.0\\.0\\.1:${sshd.port}: exit 5 in \\d+ ms$`));
    });
  });

  describe('files', () => {
    it('writeFile writes data with the mode, atomically, replacing an existing file', async () => {
      const f = join(dir, "it's written");
      await session.writeFile(f, 'secret\n', 0o600);
      expect(readFileSync(f, 'utf8')).toBe('secret\n');
      expect(statSync(f).mode & 0o777).toBe(0o600);
      await session.writeFile(f, Buffer.from([0, 1, 2, 255]), 0o755);
      expect(readFileSync(f)).toEqual(Buffer.from([0, 1, 2, 255]));
      expect((await session.run(`stat -c %a "${f}"`)).trim()).toBe('755');
      expect(readdirSync(dir).filter((n) => n.includes('.machine-'))).toEqual([]);
      await expect(session.writeFile(join(dir, 'no', 'such', 'dir'), 'x')).rejects.toBeInstanceOf(SshCommandError);
    });

    it.skipIf(!findSystemSsh('sudo'))('writeFile with sudo', async () => {
      const f = join(dir, 'sudo-written');
      await session.writeFile(f, 'root', 0o640, { sudo: true });
      expect(statSync(f).mode & 0o777).toBe(0o640);
    });

    it('uploads and downloads a file, keeping its mode, into a directory or to a new name', async () => {
      const local = join(dir, 'script.sh');
      writeFileSync(local, '#!/bin/sh\necho hi\n');
      chmodSync(local, 0o750);
      mkdirSync(join(dir, 'remote-dir'));
      await session.upload(local, join(dir, 'remote-dir'));
      expect(readFileSync(join(dir, 'remote-dir', 'script.sh'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
      expect(statSync(join(dir, 'remote-dir', 'script.sh')).mode & 0o777).toBe(0o750);
      await session.download(join(dir, 'remote-dir', 'script.sh'), join(dir, 'fetched.sh'));
      expect(readFileSync(join(dir, 'fetched.sh'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
      expect(statSync(join(dir, 'fetched.sh')).mode & 0o777).toBe(0o750);
      await expect(session.download(join(dir, 'nope'), join(dir, 'x'))).rejects.toBeInstanceOf(SshError);
    });

    it('copies directories recursively both ways, and refuses a directory without recursive', async () => {
      const src = join(dir, 'tree');
      mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
      writeFileSync(join(src, 'top.txt'), 'T');
      writeFileSync(join(src, 'sub', 'deeper', 'a.txt'), 'A');
      await expect(session.upload(src, join(dir, 'uploaded'))).rejects.toThrow(/directory/);
      await session.upload(src, join(dir, 'uploaded'), { recursive: true });
      expect(readFileSync(join(dir, 'uploaded', 'top.txt'), 'utf8')).toBe('T');
      expect(readFileSync(join(dir, 'uploaded', 'sub', 'deeper', 'a.txt'), 'utf8')).toBe('A');
      // Into an existing directory, like scp -r.
      await session.upload(src, join(dir, 'uploaded'), { recursive: true });
      expect(readFileSync(join(dir, 'uploaded', 'tree', 'top.txt'), 'utf8')).toBe('T');

      await session.download(join(dir, 'uploaded'), join(dir, 'back'), { recursive: true });
      expect(readFileSync(join(dir, 'back', 'sub', 'deeper', 'a.txt'), 'utf8')).toBe('A');
      expect(readFileSync(join(dir, 'back', 'tree', 'top.txt'), 'utf8')).toBe('T');
    });
  });

  describe('terminal', () => {
    it('shell runs what stdin says without a pty and resolves with its exit code', async () => {
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let out = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      stdin.end('echo hi from the shell; exit 7\n');
      expect(await session.shell({ stdin, stdout, stderr })).toBe(7);
      expect(out).toContain('hi from the shell');
    });

    it('interactive runs a command on a pty when asked', async () => {
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      stdin.end();
      expect(await session.interactive('tty; stty size; exit 3', { stdin, stdout, stderr: new PassThrough(), pty: true, cols: 100, rows: 30 })).toBe(3);
      expect(out).toMatch(/\/dev\/pts\/\d+/);
      expect(out).toContain('30 100');
    });
  });

  describe('host keys', () => {
    it('pins on first use, verifies after, and refuses a replaced key', async () => {
      const knownHostsPath = join(dir, 'known_hosts-m1');
      const policy: HostKeyPolicy = { machine: 'm1', knownHostsPath, mode: 'pin-on-first-use' };
      (await SshSession.connect(target, { hostKey: policy })).close();
      const pinned = readFileSync(knownHostsPath, 'utf8');
      expect(pinned).toBe(`machine-m1 ${readFileSync(`${sshd.hostKey('a')}.pub`, 'utf8').trim()}\n`);
      expect(statSync(knownHostsPath).mode & 0o777).toBe(0o600);
      (await SshSession.connect(target, { hostKey: { ...policy, mode: 'verify' } })).close();

      await sshd.stop();
      await sshd.start('b');
      try {
        for (const mode of ['verify', 'pin-on-first-use'] as const) {
          const err = await SshSession.connect(target, { hostKey: { ...policy, mode } }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(HostKeyMismatchError);
          expect((err as Error).message).toContain(fingerprint(pubBlob(sshd.hostKey('a'))));
          expect((err as Error).message).toContain(fingerprint(pubBlob(sshd.hostKey('b'))));
          expect((err as Error).message).toContain(`127.0.0.1:${sshd.port}`);
        }
        expect(readFileSync(knownHostsPath, 'utf8')).toBe(pinned);
        // Not retried: a changed key will not change back by waiting.
        let attempts = 0;
        await expect(waitForSsh(target, { hostKey: { ...policy, mode: 'verify' }, timeoutMs: 10_000, onAttempt: () => attempts++ })).rejects.toBeInstanceOf(HostKeyMismatchError);
        expect(attempts).toBe(0);
      } finally {
        await sshd.stop();
        await sshd.start('a');
      }
    });

    it("'verify' pins when no file exists (a Docker Machine store), but refuses a file without the machine's key", async () => {
      const knownHostsPath = join(dir, 'known_hosts-dm');
      (await SshSession.connect(target, { hostKey: { machine: 'dm', knownHostsPath, mode: 'verify' } })).close();
      expect(readPinned(knownHostsPath, 'dm')).toHaveLength(1);
      const err = await SshSession.connect(target, { hostKey: { machine: 'other', knownHostsPath, mode: 'verify' } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SshError);
      expect((err as Error).message).toMatch(/No SSH host key for machine-other/);
    });

    it('does not pin the key of a host that refuses our key', async () => {
      const knownHostsPath = join(dir, 'known_hosts-refused');
      const other = keygen(join(dir, 'not-authorized'));
      await expect(
        SshSession.connect({ ...target, privateKeyPath: other }, { hostKey: { machine: 'x', knownHostsPath, mode: 'pin-on-first-use' } }),
      ).rejects.toBeInstanceOf(SshAuthError);
      expect(existsSync(knownHostsPath)).toBe(false);
    });
  });

  describe('system ssh', () => {
    it('runs a command with buildSshArgs, pins with accept-new in the file the native client reads, and refuses a changed key', async () => {
      const knownHostsPath = join(dir, 'known_hosts-sys');
      const args = () => buildSshArgs(target, { machine: 'sys', knownHostsPath, extraArgs: [], command: ['echo', 'hi'] });
      expect(args()).toContain('StrictHostKeyChecking=accept-new');
      expect(await runSsh(args())).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
      // ssh wrote the pin; the native client accepts it as its own.
      expect(readFileSync(knownHostsPath, 'utf8')).toMatch(/^machine-sys ssh-ed25519 \S+\n$/);
      (await SshSession.connect(target, { hostKey: { machine: 'sys', knownHostsPath, mode: 'verify' } })).close();
      expect(args()).toContain('StrictHostKeyChecking=yes');
      expect(await runSsh(args())).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });

      await sshd.stop();
      await sshd.start('b');
      try {
        const r = await runSsh(args());
        expect(r.code).toBe(255);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(/Host key verification failed/);
      } finally {
        await sshd.stop();
        await sshd.start('a');
      }
    });

    it('also accepts a key pinned by the native client', async () => {
      const knownHostsPath = join(dir, 'known_hosts-native');
      (await SshSession.connect(target, { hostKey: { machine: 'nat', knownHostsPath, mode: 'pin-on-first-use' } })).close();
      const r = await runSsh(buildSshArgs(target, { machine: 'nat', knownHostsPath, extraArgs: [], command: ['echo', 'hi'] }));
      expect(r).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    });

    it.skipIf(!findSystemSsh('scp'))('copies with buildScpArgs', async () => {
      const knownHostsPath = join(dir, 'known_hosts-scp');
      const src = join(dir, 'scp-src');
      mkdirSync(join(src, 'd'), { recursive: true });
      writeFileSync(join(src, 'd', 'f'), 'scp');
      const args = buildScpArgs(target, {
        machine: 'scp',
        knownHostsPath,
        recursive: true,
        sources: [src],
        destination: scpRemote(target, join(dir, 'scp-dst')),
      });
      execFileSync(findSystemSsh('scp')!, args, { stdio: 'pipe' });
      expect(readFileSync(join(dir, 'scp-dst', 'd', 'f'), 'utf8')).toBe('scp');
    });
  });

  describe('failures', () => {
    it('a fast command whose exit status comes in the same read as its channel still reports it', async () => {
      // Under load the whole reply to `exec` arrives at once; the exit status must not be
      // lost between the channel's arrival and the listeners (it was: "the channel closed
      // without an exit status").
      const relay = await batchingRelay(sshd.port);
      const slow = await SshSession.connect({ ...target, port: relay.port });
      // After the login: long enough that each command's whole reply is in one write.
      relay.hold(1000);
      try {
        expect(await slow.exec('echo out; exit 3')).toEqual({ stdout: 'out\n', stderr: '', code: 3 });
        expect(await slow.run('cat /etc/os-release')).toMatch(/^ID=/m);
        const stdout = new PassThrough();
        const stdin = new PassThrough();
        stdin.end();
        expect(await slow.interactive('exit 4', { stdin, stdout, stderr: new PassThrough() })).toBe(4);
      } finally {
        slow.close();
        relay.close();
      }
    });

    it('a wrong key is one SshAuthError at once, not retried by waitForSsh', async () => {
      const other = keygen(join(dir, 'wrong'));
      const t = Date.now();
      let attempts = 0;
      const err = await waitForSsh({ ...target, privateKeyPath: other }, { timeoutMs: 20_000, onAttempt: () => attempts++ }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SshAuthError);
      expect((err as Error).message).toBe(
        `SSH authentication failed for root@127.0.0.1:${sshd.port} with key ${other}: check the key, and that its public key is in ~root/.ssh/authorized_keys on the host`,
      );
      expect(attempts).toBe(0);
      expect(Date.now() - t).toBeLessThan(5000);
    });

    it('an unreadable or malformed key is an SshAuthError naming the file', async () => {
      await expect(SshSession.connect({ ...target, privateKeyPath: join(dir, 'absent') })).rejects.toThrow(
        new SshAuthError(`Cannot read SSH key ${join(dir, 'absent')}: ENOENT: no such file or directory, open '${join(dir, 'absent')}'`),
      );
      writeFileSync(join(dir, 'garbage'), 'not a key');
      await expect(SshSession.connect({ ...target, privateKeyPath: join(dir, 'garbage') })).rejects.toBeInstanceOf(SshAuthError);
    });

    it('a dropped connection fails the running command and the ones after it', async () => {
      const s = await SshSession.connect(target);
      // The command's parent is the sshd process serving this connection.
      await expect(s.exec('kill -9 $PPID; sleep 2')).rejects.toBeInstanceOf(SshDisconnectedError);
      await expect(s.exec('true')).rejects.toBeInstanceOf(SshDisconnectedError);
      s.close();
    });

    it('waitForSsh connects to an sshd that starts about a second later', async () => {
      const port = await freePort();
      const later = new Sshd(dir, port);
      const starting = new Promise<void>((resolve, reject) => setTimeout(() => later.start().then(resolve, reject), 1000));
      const attempts: string[] = [];
      try {
        const t = Date.now();
        const s = await waitForSsh({ ...target, port }, { timeoutMs: 20_000, onAttempt: (_n, e) => attempts.push(e.constructor.name) });
        expect(Date.now() - t).toBeGreaterThanOrEqual(900);
        expect(await s.run('echo up')).toBe('up\n');
        s.close();
        expect(attempts.length).toBeGreaterThan(0);
        expect(new Set(attempts)).toEqual(new Set(['SshUnreachableError']));
      } finally {
        await starting;
        await later.stop();
      }
    });

    it('waitForSsh gives up on a closed port at its deadline with SshUnreachableError', async () => {
      const port = await freePort();
      const t = Date.now();
      const err = await waitForSsh({ ...target, port }, { timeoutMs: 2000 }).catch((e: unknown) => e);
      const took = Date.now() - t;
      expect(err).toBeInstanceOf(SshUnreachableError);
      expect((err as Error).message).toMatch(new RegExp(`^Cannot reach 127\\.0\\.0\\.1:${port} over SSH within 2 s \\(last error: .*ECONNREFUSED`));
      expect(took).toBeGreaterThanOrEqual(1900);
      expect(took).toBeLessThan(3000);
    });

    it('waitForSsh stops when aborted', async () => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('stop waiting')), 300);
      const t = Date.now();
      await expect(waitForSsh({ ...target, port: await freePort() }, { timeoutMs: 20_000, signal: ac.signal })).rejects.toThrow('stop waiting');
      expect(Date.now() - t).toBeLessThan(2000);
    });
  });
});
