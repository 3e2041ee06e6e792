import { homeDir } from '../os-facts.js';
import { join, resolve } from 'node:path';

/** `--storage-path`/`-s`, then MACHINE_STORAGE_PATH, then Docker Machine's default. */
export function resolveStoreRoot(flag?: string): string {
  const chosen = flag || process.env.MACHINE_STORAGE_PATH || join(homeDir(), '.docker', 'machine');
  return resolve(chosen);
}

/** Downloaded and built artefacts (images, rootfs tarballs): the store's cache/, or MACHINE_CACHE_DIR. */
export function cacheDir(storeRoot: string): string {
  return process.env.MACHINE_CACHE_DIR || join(storeRoot, 'cache');
}

/** The TLS sessions of engine calls, for the next call to resume (engine/tls-sessions.ts). */
export function tlsSessionsFile(storeRoot: string): string {
  return join(cacheDir(storeRoot), 'tls-sessions.json');
}
