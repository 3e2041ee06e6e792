import { existsSync, readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

export interface HostKeyPolicy {
  machine: string;
  knownHostsPath: string;
  /**
   * 'pin-on-first-use' (create): record the key if none is pinned, verify otherwise.
   * 'verify' (every later command): verify against the pinned key. A store made by Docker
   * Machine never pinned one, so there too the first connection pins it.
   */
  mode: 'pin-on-first-use' | 'verify';
}

/** The alias the system ssh looks the key up under (-o HostKeyAlias), whatever the address. */
export function hostAlias(machine: string): string {
  return `machine-${machine}`;
}

export interface PinnedKey {
  keyType: string;
  keyBlob: Buffer;
}

export function readPinned(path: string): PinnedKey | undefined {
  if (!existsSync(path)) return undefined;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length >= 3 && !parts[0]!.startsWith('#')) return { keyType: parts[1]!, keyBlob: Buffer.from(parts[2]!, 'base64') };
  }
  return undefined;
}

export async function writePinned(path: string, machine: string, keyType: string, keyBlob: Buffer): Promise<void> {
  const tmp = join(dirname(path), `.known_hosts.${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, `${hostAlias(machine)} ${keyType} ${keyBlob.toString('base64')}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

export async function resetPinned(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** The key type named inside an SSH public key blob (string length + name). */
export function keyTypeOf(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('ascii');
}
