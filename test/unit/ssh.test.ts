import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSshArgs, findSystemSsh, SshAuthError, SshCommandError, SshSession, SshUnreachableError, waitForSsh } from '../../src/ssh/index.js';
import { HostKeyMismatchError } from '../../src/errors.js';
import { tempStore } from '../helpers/cli.js';

const canRunSshd = process.getuid?.() === 0 && existsSync('/usr/sbin/sshd');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** A real OpenSSH server on loopback, with its own host key and authorized key. */
class Sshd {
  proc?: ChildProcess;
  constructor(readonly dir: string, readonly port: number) {}
  hostKey(name: string): string {
    const p = join(this.dir, name);
    if (!existsSync(p)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', p]);
    return p;
  }
  start(hostKeyName = 'host1'): Promise<void> {
    mkdirSync('/run/sshd', { recursive: true });
    const cfg = join(this.dir, 'sshd_config');
    writeFileSync(cfg, [
      `Port ${this.port}`, 'ListenAddress 127.0.0.1', `HostKey ${this.hostKey(hostKeyName)}`,
      `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`, 'StrictModes no', 'UsePAM no', 'PasswordAuthentication no',
      `PidFile ${join(this.dir, 'sshd.pid')}`, 'PermitRootLogin prohibit-password', 'Subsystem sftp internal-sftp', '',
    ].join('\n'));
    this.proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', cfg], { stdio: 'ignore' });
    return new Promise((resolve) => setTimeout(resolve, 300));
  }
  async stop(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc!.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}

describe.skipIf(!canRunSshd)(`SSH against a real sshd on loopback${canRunSshd ? '' : ' (skipped: needs root and openssh-server)'}`, () => {
  let dir: string;
  let key: string;
  let sshd: Sshd;
  let target: { host: string; port: number; user: string; privateKeyPath: string };

  beforeAll(async () => {
    dir = await tempStore('machine-sshd-');
    key = join(dir, 'client');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${key}.pub`));
    sshd = new Sshd(dir, await freePort());
    await sshd.start();
    target = { host: '127.0.0.1', port: sshd.port, user: 'root', privateKeyPath: key };
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('runs commands with stdout, stderr, exit code and stdin; run() throws on failure', async () => {
    const s = await SshSession.connect(target);
    try {
      expect(await s.exec('echo out; echo err >&2; exit 3')).toEqual({ stdout: 'out\n', stderr: 'err\n', code: 3 });
      expect(await s.run('cat', { stdin: 'piped' })).toBe('piped');
      await expect(s.run('false')).rejects.toBeInstanceOf(SshCommandError);
      const f = join(dir, 'written');
      await s.writeFile(f, 'secret', 0o600);
      expect(readFileSync(f, 'utf8')).toBe('secret');
      expect((await s.run(`stat -c %a ${f}`)).trim()).toBe('600');
    } finally {
      s.close();
    }
  });

  it('copies files and directories both ways over SFTP', async () => {
    const s = await SshSession.connect(target);
    try {
      const src = join(dir, 'tree');
      mkdirSync(join(src, 'sub'), { recursive: true });
      writeFileSync(join(src, 'sub', 'a.txt'), 'A');
      await s.upload(src, join(dir, 'uploaded'), { recursive: true });
      expect(readFileSync(join(dir, 'uploaded', 'sub', 'a.txt'), 'utf8')).toBe('A');
      await s.download(join(dir, 'uploaded'), join(dir, 'back'), { recursive: true });
      expect(readFileSync(join(dir, 'back', 'sub', 'a.txt'), 'utf8')).toBe('A');
    } finally {
      s.close();
    }
  });

  it('pins the host key on first use and refuses a changed one, as the system ssh does with the same file', async () => {
    const knownHostsPath = join(dir, 'known_hosts');
    const policy = { machine: 'm1', knownHostsPath, mode: 'pin-on-first-use' as const };
    (await SshSession.connect(target, { hostKey: policy })).close();
    expect(readFileSync(knownHostsPath, 'utf8')).toMatch(/^machine-m1 ssh-ed25519 /);
    (await SshSession.connect(target, { hostKey: { ...policy, mode: 'verify' } })).close();
    const ssh = findSystemSsh();
    const args = buildSshArgs(target, { machine: 'm1', knownHostsPath, command: ['echo', 'hi'] });
    if (ssh) expect(execFileSync(ssh, args, { encoding: 'utf8' })).toBe('hi\n');

    await sshd.stop();
    await sshd.start('host2');
    await expect(SshSession.connect(target, { hostKey: { ...policy, mode: 'verify' } })).rejects.toBeInstanceOf(HostKeyMismatchError);
    if (ssh) expect(() => execFileSync(ssh, args, { stdio: 'pipe' })).toThrow();
    await sshd.stop();
    await sshd.start('host1');
  });

  it('fails at once on a wrong key, even while waiting for SSH', async () => {
    const other = join(dir, 'other');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const t = Date.now();
    await expect(waitForSsh({ ...target, privateKeyPath: other }, { timeoutMs: 20_000 })).rejects.toBeInstanceOf(SshAuthError);
    expect(Date.now() - t).toBeLessThan(5000);
  });

  it('waits for an sshd that comes up later, and gives up on a closed port within its timeout', async () => {
    const port = await freePort();
    const later = new Sshd(dir, port);
    setTimeout(() => void later.start(), 1500);
    try {
      const s = await waitForSsh({ ...target, port }, { timeoutMs: 20_000 });
      expect((await s.run('echo up')).trim()).toBe('up');
      s.close();
    } finally {
      await later.stop();
    }
    const t = Date.now();
    await expect(waitForSsh({ ...target, port: await freePort() }, { timeoutMs: 2000 })).rejects.toBeInstanceOf(SshUnreachableError);
    expect(Date.now() - t).toBeLessThan(6000);
  });
});

describe('machine SSH keys', () => {
  it('are always readable back, also without ssh2\'s native binding', async () => {
    const { generateKeyPair } = await import('../../src/ssh/keys.js');
    const ssh2 = (await import('ssh2')).default;
    const dir = await tempStore('machine-keys-');
    for (let i = 0; i < 400; i++) {
      const p = join(dir, `k${i}`);
      await generateKeyPair(p, `machine-k${i}`);
      expect(ssh2.utils.parseKey(readFileSync(p))).not.toBeInstanceOf(Error);
    }
  });
});
