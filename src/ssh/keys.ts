import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import ssh2 from 'ssh2';
import { SshError } from '../errors.js';

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

/** A machine's own key: ed25519, in OpenSSH format, so both ssh2 and the system ssh read it. */
export async function generateKeyPair(privatePath: string, comment = 'machine'): Promise<{ publicKey: string }> {
  // ssh2 without its native binding now and then writes an ed25519 key it cannot read back
  // (about 1 in 150 here): check each one, and make another when it is malformed.
  let pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
  for (let i = 0; i < 20 && ssh2.utils.parseKey(pair.private) instanceof Error; i++) {
    pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
  }
  if (ssh2.utils.parseKey(pair.private) instanceof Error) throw new SshError('Could not generate a readable SSH key');
  await writeAtomic(privatePath, pair.private, 0o600);
  await writeAtomic(`${privatePath}.pub`, pair.public.trim() + '\n', 0o644);
  return { publicKey: pair.public.trim() };
}

export async function readPublicKey(privatePath: string): Promise<string> {
  const pub = `${privatePath}.pub`;
  if (existsSync(pub)) return (await readFile(pub, 'utf8')).trim();
  const parsed = ssh2.utils.parseKey(await readFile(privatePath));
  if (parsed instanceof Error) throw new SshError(`Cannot read SSH key ${privatePath}: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

/** OpenSSH's fingerprint form: SHA256:<unpadded base64>. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}
