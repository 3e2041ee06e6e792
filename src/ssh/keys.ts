import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { writeFileAtomic } from '../sys/atomic.js';
import { SshError } from '../errors.js';

/** A machine's own key: ed25519 in OpenSSH format, so both ssh2 and the system ssh read it. */
export async function generateKeyPair(privatePath: string, comment = 'machine'): Promise<{ publicKey: string }> {
  const pair = readableKeyPair(comment);
  // Private key first: a .pub without its private half would pass for a usable key.
  await writeFileAtomic(privatePath, pair.private, 0o600);
  await writeFileAtomic(`${privatePath}.pub`, `${pair.public.trim()}\n`, 0o644);
  return { publicKey: pair.public.trim() };
}

function readableKeyPair(comment: string): { private: string; public: string } {
  // ssh2 without its native binding writes about one ed25519 key in 150-300 that neither it
  // nor OpenSSH can read back: check each one, and make another when it is malformed.
  for (let i = 0; i < 20; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    const parsed = ssh2.utils.parseKey(pair.private);
    if (parsed instanceof Error) continue;
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key && `${key.type} ${key.getPublicSSH().toString('base64')}` === pair.public.split(' ').slice(0, 2).join(' ')) return pair;
  }
  throw new SshError('Could not generate a readable SSH key');
}

/** The OpenSSH public key line for a private key: its .pub if present, else derived from the key. */
export async function readPublicKey(privatePath: string): Promise<string> {
  const pub = await readFile(`${privatePath}.pub`, 'utf8').catch(() => undefined);
  const line = pub?.split('\n').find((l) => l.trim() !== '');
  if (line) return line.trim();
  let data: Buffer;
  try {
    data = await readFile(privatePath);
  } catch (err) {
    throw new SshError(`Cannot read SSH key ${privatePath}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = ssh2.utils.parseKey(data);
  if (parsed instanceof Error) throw new SshError(`Cannot read SSH key ${privatePath}: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key) throw new SshError(`Cannot read SSH key ${privatePath}: no key in file`);
  return [key.type, key.getPublicSSH().toString('base64'), key.comment].filter(Boolean).join(' ');
}

/** OpenSSH's fingerprint form (as `ssh-keygen -l` prints it): SHA256:<unpadded base64>. */
export function fingerprint(pubKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(pubKeyBlob).digest('base64').replace(/=+$/, '')}`;
}
