import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createHmac, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { retryDelay } from '../../src/ssh/wait.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostKeyMismatchError, SshError } from '../../src/errors.js';
import {
  buildScpArgs,
  buildSshArgs,
  checkHostKey,
  findSystemSsh,
  fingerprint,
  generateKeyPair,
  hostAlias,
  keyTypeOf,
  readPinned,
  readPublicKey,
  resetPinned,
  scpRemote,
  writePinned,
} from '../../src/ssh/index.js';
import { hostKeyAlgorithms } from '../../src/ssh/known-hosts.js';
import { Slots } from '../../src/ssh/slots.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'machine-ssh-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blob = (type: string) => {
  const name = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(name.length);
  return Buffer.concat([len, name, randomBytes(32)]);
};

describe('keys', () => {
  it('generateKeyPair writes an OpenSSH ed25519 pair with private 0600 and public 0644', async () => {
    const p = join(dir, 'id');
    const { publicKey } = await generateKeyPair(p, 'machine-test');
    expect(publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]+=* machine-test$/);
    expect(readFileSync(p, 'utf8')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(readFileSync(`${p}.pub`, 'utf8')).toBe(`${publicKey}\n`);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(statSync(`${p}.pub`).mode & 0o777).toBe(0o644);
    expect(await readPublicKey(p)).toBe(publicKey);
    unlinkSync(`${p}.pub`);
    expect(await readPublicKey(p)).toBe(publicKey);
    // Replacing a key replaces both halves.
    const again = await generateKeyPair(p, 'machine-test');
    expect(again.publicKey).not.toBe(publicKey);
    expect(await readPublicKey(p)).toBe(again.publicKey);
  });

  it.skipIf(!findSystemSsh('ssh-keygen'))('keys are what OpenSSH reads, and fingerprints are what it prints', async () => {
    const p = join(dir, 'id-openssh');
    const { publicKey } = await generateKeyPair(p);
    chmodSync(p, 0o600);
    const derived = execFileSync('ssh-keygen', ['-y', '-f', p], { encoding: 'utf8' });
    expect(derived.split(' ').slice(0, 2)).toEqual(publicKey.split(' ').slice(0, 2));
    const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${p}.pub`], { encoding: 'utf8' }).split(' ')[1];
    expect(fingerprint(Buffer.from(publicKey.split(' ')[1]!, 'base64'))).toBe(printed);
  });

  it("are always readable back, also without ssh2's native binding (it writes an unreadable one now and then)", async () => {
    for (let i = 0; i < 400; i++) {
      const p = join(dir, `k${i}`);
      await generateKeyPair(p, `machine-k${i}`);
      expect(ssh2.utils.parseKey(readFileSync(p))).not.toBeInstanceOf(Error);
    }
  });

  it('readPublicKey names a missing key', async () => {
    await expect(readPublicKey(join(dir, 'absent'))).rejects.toThrow(/^Cannot read SSH key .*absent/);
  });
});

describe('known_hosts', () => {
  it('writes one aliased line with mode 0600 and reads it back', async () => {
    const f = join(dir, 'kh1');
    const key = blob('ssh-ed25519');
    await writePinned(f, 'dev', 'ssh-ed25519', key);
    expect(readFileSync(f, 'utf8')).toBe(`machine-dev ssh-ed25519 ${key.toString('base64')}\n`);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readPinned(f)).toEqual([{ keyType: 'ssh-ed25519', keyBlob: key }]);
    expect(readPinned(f, 'dev')).toHaveLength(1);
    expect(readPinned(f, 'other')).toEqual([]);
    await resetPinned(f);
    expect(readPinned(f)).toEqual([]);
    await resetPinned(f);
  });

  it('understands hashed names, comma lists and comments, as OpenSSH writes them', () => {
    const f = join(dir, 'kh2');
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update(hostAlias('h')).digest('base64');
    const a = blob('ssh-ed25519');
    const b = blob('ecdsa-sha2-nistp256');
    writeFileSync(f, `# comment\n\n|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${a.toString('base64')}\nfoo,machine-h ecdsa-sha2-nistp256 ${b.toString('base64')} c\nmachine-x ssh-rsa AAAA\n`);
    expect(readPinned(f, 'h').map((k) => k.keyType)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256']);
    expect(readPinned(f).length).toBe(3);
  });

  it('checkHostKey: pins when no file, matches the pinned key, refuses another', async () => {
    const f = join(dir, 'kh3');
    const key = blob('ssh-ed25519');
    for (const mode of ['pin-on-first-use', 'verify'] as const) {
      expect(checkHostKey({ machine: 'm', knownHostsPath: f, mode }, '10.0.0.1:22', key)).toBe('pin');
    }
    await writePinned(f, 'm', keyTypeOf(key), key);
    const other = blob('ssh-ed25519');
    for (const mode of ['pin-on-first-use', 'verify'] as const) {
      expect(checkHostKey({ machine: 'm', knownHostsPath: f, mode }, '10.0.0.1:22', key)).toBe('match');
      expect(() => checkHostKey({ machine: 'm', knownHostsPath: f, mode }, '10.0.0.1:22', other)).toThrow(
        new HostKeyMismatchError('m', '10.0.0.1:22', fingerprint(key), fingerprint(other)),
      );
    }
    // A file naming no key for this machine: only create may (re)pin.
    writeFileSync(f, '');
    expect(checkHostKey({ machine: 'm', knownHostsPath: f, mode: 'pin-on-first-use' }, '10.0.0.1:22', key)).toBe('pin');
    expect(() => checkHostKey({ machine: 'm', knownHostsPath: f, mode: 'verify' }, '10.0.0.1:22', key)).toThrow(SshError);
  });

  it('prefers the pinned key type when negotiating', () => {
    expect(hostKeyAlgorithms([])).toBeUndefined();
    expect(hostKeyAlgorithms([{ keyType: 'ssh-rsa', keyBlob: Buffer.alloc(0) }])?.slice(0, 4)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
    expect(hostKeyAlgorithms([{ keyType: 'ecdsa-sha2-nistp256', keyBlob: Buffer.alloc(0) }])?.[0]).toBe('ecdsa-sha2-nistp256');
    expect(hostKeyAlgorithms([{ keyType: 'sk-ssh-ed25519@openssh.com', keyBlob: Buffer.alloc(0) }])).toBeUndefined();
  });
});

describe('system ssh arguments', () => {
  const target = { host: '192.168.99.100', port: 2222, user: 'docker', privateKeyPath: '/s/machines/dev/id_rsa' };
  const base = [
    '-F', '/dev/null',
    '-o', 'ConnectionAttempts=3',
    '-o', 'ConnectTimeout=10',
    '-o', 'ControlMaster=no',
    '-o', 'ControlPath=none',
    '-o', 'LogLevel=ERROR',
    '-o', 'PasswordAuthentication=no',
    '-o', 'ServerAliveInterval=60',
  ];
  const checking = (kh: string, strict: string) => [
    '-o', 'HostKeyAlias=machine-dev',
    '-o', `UserKnownHostsFile=${kh}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', `StrictHostKeyChecking=${strict}`,
    '-o', 'HashKnownHosts=no',
    '-o', 'UpdateHostKeys=no',
    '-o', 'CheckHostIP=no',
  ];
  const identity = ['-o', 'IdentitiesOnly=yes', '-i', '/s/machines/dev/id_rsa'];

  it('accept-new until a key is pinned, then strict checking', async () => {
    const kh = join(dir, 'dev-known_hosts');
    const args = () => buildSshArgs(target, { machine: 'dev', knownHostsPath: kh, extraArgs: ['-L', '8080:localhost:80'], command: ['uname', '-a'] });
    expect(args()).toEqual([...base, ...checking(kh, 'accept-new'), ...identity, '-p', '2222', '-L', '8080:localhost:80', 'docker@192.168.99.100', 'uname', '-a']);
    await writePinned(kh, 'dev', 'ssh-ed25519', blob('ssh-ed25519'));
    expect(args()).toEqual([...base, ...checking(kh, 'yes'), ...identity, '-p', '2222', '-L', '8080:localhost:80', 'docker@192.168.99.100', 'uname', '-a']);
  });

  it('without a known_hosts file or key, as Docker Machine did', () => {
    expect(buildSshArgs({ host: 'h', port: 22, user: 'u' }, { machine: 'dev', extraArgs: [] })).toEqual([
      ...base, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-p', '22', 'u@h',
    ]);
  });

  it('scp: -P, -r, then -- and the paths; IPv6 in brackets', () => {
    const kh = join(dir, 'scp-known_hosts');
    const v6 = { ...target, host: 'fe80::1' };
    expect(scpRemote(v6, '/tmp/x')).toBe('docker@[fe80::1]:/tmp/x');
    expect(scpRemote(target, 'rel')).toBe('docker@192.168.99.100:rel');
    expect(buildScpArgs(v6, { machine: 'dev', knownHostsPath: kh, recursive: true, sources: ['-odd name'], destination: scpRemote(v6, '/tmp/x') })).toEqual([
      ...base, ...checking(kh, 'accept-new'), ...identity, '-P', '2222', '-r', '--', '-odd name', 'docker@[fe80::1]:/tmp/x',
    ]);
  });

  it('refuses a host or user that ssh would read as an option', () => {
    expect(() => buildSshArgs({ ...target, host: '-oProxyCommand=x' }, { machine: 'dev' })).toThrow(SshError);
    expect(() => buildSshArgs({ ...target, user: '-x' }, { machine: 'dev' })).toThrow(SshError);
  });

  it('findSystemSsh finds executables on PATH only', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'fake-ssh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(bin, 'not-exec'), '', { mode: 0o644 });
    mkdirSync(join(bin, 'a-dir'));
    const saved = process.env['PATH'];
    process.env['PATH'] = `/nonexistent:${bin}`;
    try {
      expect(findSystemSsh('fake-ssh')).toBe(join(bin, 'fake-ssh'));
      expect(findSystemSsh('not-exec')).toBeUndefined();
      expect(findSystemSsh('a-dir')).toBeUndefined();
    } finally {
      process.env['PATH'] = saved;
    }
  });
});

describe('Slots', () => {
  it('lets `size` holders in and the rest in order', async () => {
    const slots = new Slots(2);
    const order: number[] = [];
    const r1 = await slots.acquire();
    const r2 = await slots.acquire();
    const waiting = [3, 4].map((n) => slots.acquire().then((release) => (order.push(n), release)));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    r1();
    r1();
    const r3 = await waiting[0]!;
    expect(order).toEqual([3]);
    r2();
    await waiting[1];
    expect(order).toEqual([3, 4]);
    r3();
  });
});

describe('waiting for SSH', () => {
  it('tries every 100 ms for the first 3 s (a container boots in about that), then backs off to every 500 ms', () => {
    expect(retryDelay(0, 0)).toBe(100);
    expect(retryDelay(2_900, 100)).toBe(100);
    expect(retryDelay(3_000, 100)).toBe(200);
    expect(retryDelay(3_200, 200)).toBe(400);
    expect(retryDelay(3_600, 400)).toBe(500);
    expect(retryDelay(60_000, 500)).toBe(500);
    expect(retryDelay(10, 0, { initialMs: 250, steadyMs: 0, maxMs: 1000 })).toBe(250);
    expect(retryDelay(10, 250, { initialMs: 250, steadyMs: 0, maxMs: 1000 })).toBe(500);
  });
});
