import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { writeFileAtomic } from '../sys/atomic.js';
import { HostKeyMismatchError, SshError } from '../errors.js';
import { fingerprint } from './keys.js';

export interface HostKeyPolicy {
  machine: string;
  knownHostsPath: string;
  /**
   * 'pin-on-first-use' (create): record the key if no file exists, verify against it otherwise.
   * 'verify' (every later command): the file must hold the key when it exists. Stores made by
   * Docker Machine never pinned a key, so when the file is absent the first connection pins
   * it here too, rather than locking those machines out.
   */
  mode: 'pin-on-first-use' | 'verify';
}

export interface PinnedKey {
  keyType: string;
  keyBlob: Buffer;
}

/** The name the key is filed under, whatever the address: the system ssh gets it as -o HostKeyAlias. */
export function hostAlias(machine: string): string {
  return `machine-${machine}`;
}

/**
 * Keys in an OpenSSH known_hosts file, for `machine`'s alias when given. The system ssh may have
 * written the file (accept-new), so hashed names and comma lists are understood too.
 */
export function readPinned(path: string, machine?: string): PinnedKey[] {
  if (!existsSync(path)) return [];
  const alias = machine === undefined ? undefined : hostAlias(machine);
  const keys: PinnedKey[] = [];
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [hosts, keyType, b64] = line.split(/\s+/);
    if (!hosts || !keyType || !b64) continue;
    if (alias !== undefined && !hosts.split(',').some((h) => hostMatches(h, alias))) continue;
    keys.push({ keyType, keyBlob: Buffer.from(b64, 'base64') });
  }
  return keys;
}

function hostMatches(pattern: string, alias: string): boolean {
  if (!pattern.startsWith('|1|')) return pattern === alias;
  const [salt, hash] = pattern.slice(3).split('|');
  if (!salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(alias).digest('base64') === hash;
}

export async function writePinned(path: string, machine: string, keyType: string, keyBlob: Buffer): Promise<void> {
  await writeFileAtomic(path, `${hostAlias(machine)} ${keyType} ${keyBlob.toString('base64')}\n`, 0o600);
}

/** Forgets the pinned key, so the next connection trusts whatever the host offers (after a reinstall). */
export async function resetPinned(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** The key type named inside an SSH public key blob (a length-prefixed string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  return blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('ascii');
}

/**
 * Checks a host's key against the policy: 'match' when pinned, 'pin' when it should be recorded
 * (after the connection authenticates). Throws when it must be refused.
 */
export function checkHostKey(policy: HostKeyPolicy, endpoint: string, keyBlob: Buffer): 'match' | 'pin' {
  if (!existsSync(policy.knownHostsPath)) return 'pin';
  const pinned = readPinned(policy.knownHostsPath, policy.machine);
  if (pinned.some((k) => k.keyBlob.equals(keyBlob))) return 'match';
  const first = pinned[0];
  if (first) throw new HostKeyMismatchError(policy.machine, endpoint, fingerprint(first.keyBlob), fingerprint(keyBlob));
  // The file exists but names no key for this machine: the system ssh would refuse too.
  if (policy.mode === 'pin-on-first-use') return 'pin';
  throw new SshError(
    `No SSH host key for ${hostAlias(policy.machine)} in ${policy.knownHostsPath}: delete that file to trust the key ${endpoint} offers (${fingerprint(keyBlob)})`,
  );
}

// The order ssh2 would use anyway; the pinned types go first so the host presents the very key
// we pinned, even when it also has keys of other types.
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** ssh2's serverHostKey list preferring the pinned key types; undefined keeps ssh2's default. */
export function hostKeyAlgorithms(pinned: PinnedKey[]): string[] | undefined {
  const preferred = pinned.flatMap((k) => (k.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [k.keyType]));
  const known = preferred.filter((a) => HOST_KEY_ALGORITHMS.includes(a));
  if (known.length === 0) return undefined;
  return [...new Set([...known, ...HOST_KEY_ALGORITHMS])];
}
