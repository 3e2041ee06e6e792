// The one way files of the store, keys and certificates are written. The library loads on
// the first write: read-only commands (env, ls, config) never pay for it.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Temp file + fsync + rename: a crash leaves the old file or the new one, never half of one. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const { default: writeFileAtomicLib } = await import('write-file-atomic');
  await writeFileAtomicLib(path, data, { mode, fsync: true });
}

/**
 * A cache file, whole or not at all, synchronously (from an exit handler): temp file + rename,
 * without fsync, since a crash that loses a cache costs speed only, as does a failed write.
 * (cli/cache-files.ts has its own: main must not share a module with the core.)
 */
export function writeCacheFileSync(path: string, data: string | Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, path);
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // Nothing was written.
    }
  }
}
