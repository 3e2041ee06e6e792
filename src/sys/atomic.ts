// The one way files of the store, keys and certificates are written.
import writeFileAtomicLib from 'write-file-atomic';

/** Temp file + fsync + rename: a crash leaves the old file or the new one, never half of one. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  await writeFileAtomicLib(path, data, { mode, fsync: true });
}
