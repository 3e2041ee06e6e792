import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { MachineError } from '../errors.js';

// A create can hold a machine's lock for minutes; waiters retry for up to ~20 minutes.
// proper-lockfile refreshes the lock's mtime while held, so a crashed holder goes stale in 30 s.
const RETRIES = { retries: 1230, factor: 1.3, minTimeout: 50, maxTimeout: 1000 };

export async function withFileLock<T>(lockDir: string, name: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(lockDir, { recursive: true, mode: 0o700 });
  const target = join(lockDir, name);
  await writeFile(target, '', { flag: 'a' });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, { retries: RETRIES, stale: 30_000, realpath: false });
  } catch (err) {
    throw new MachineError(`Cannot lock machine "${name}": ${(err as Error).message}`);
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
