// The one way files of the store, keys and certificates are written. The library loads on
// the first write: read-only commands (env, ls, config) never pay for it.

/** Temp file + fsync + rename: a crash leaves the old file or the new one, never half of one. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const { default: writeFileAtomicLib } = await import('write-file-atomic');
  await writeFileAtomicLib(path, data, { mode, fsync: true });
}
