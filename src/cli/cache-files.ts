// What main and the rest of the CLI's start share about machine's per-user cache files. Built-ins
// from Node's table: this runs on main's first lines, before anything of ours loads.
const { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } = process.getBuiltinModule('node:fs');
const { dirname, isAbsolute, join } = process.getBuiltinModule('node:path');

/** machine's per-user cache directory: $XDG_CACHE_HOME/machine, or ~/.cache/machine. */
export function machineCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  // os-facts.ts's homeDir(), written out: importing it would put the core chunk, which holds
  // it, on main's first line, before this cache is set up (the build refuses that).
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || process.getBuiltinModule('node:os').homedir(), '.cache');
  return join(base, 'machine');
}

/**
 * A cache file, whole or not at all (a concurrent run reads the old file or this one), private
 * to the user. A read-only or full disk costs speed only: the next run works without it.
 */
export function writeWhole(file: string, data: Buffer | string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // Nothing was written.
    }
  }
}

/**
 * Removes the files in dir whose names end in suffix, other than own, that gone(file) says
 * belong to a copy of machine no longer there: the caches are kept per installation, and
 * nothing else would remove those of one deleted. Returns how many entries dir has left (-1:
 * unreadable). Best effort: a file gone() cannot read, or removed meanwhile, is left alone.
 */
export function removeWhere(dir: string, own: string, suffix: string, gone: (file: string) => boolean): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return -1;
  }
  let left = names.length;
  for (const name of names) {
    const file = join(dir, name);
    if (file === own || !name.endsWith(suffix)) continue;
    try {
      if (gone(file)) {
        rmSync(file, { force: true });
        left--;
      }
    } catch {
      // Unreadable, or removed meanwhile.
    }
  }
  return left;
}

/**
 * 64 bits of two multiplicative hashes (FNV-1a and a MurmurHash-style mix), in hex: names for
 * installations and argument lists, and the answer cache's digests of values (enough to tell a
 * changed value from the recorded one, and no secret to recover). node:crypto would cost 0.7 ms
 * to load.
 */
export function digest(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
