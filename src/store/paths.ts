import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `--storage-path`/`-s`, then MACHINE_STORAGE_PATH, then Docker Machine's default. */
export function resolveStoreRoot(flag?: string): string {
  const chosen = flag || process.env.MACHINE_STORAGE_PATH || join(homedir(), '.docker', 'machine');
  return resolve(chosen);
}
