import { isAscii } from 'node:buffer';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { Script } from 'node:vm';

/**
 * A V8 code cache for the core chunk, made after a command ran.
 *
 * Why: V8 compiles a function the first time it runs, and Node's compile cache
 * (module.enableCompileCache) is written when a file is compiled, before any of it ran: it
 * holds the top level and nothing a command calls. So every `machine env` parsed and compiled
 * the same functions again; under callgrind that was 40% of the instructions env spends over a
 * bare node. A cache created after the command ran (vm.Script#createCachedData) holds them.
 * And turning Node's cache on loads node:module and its ESM loader (1.2 ms), which the fast
 * commands, loading nothing but the core chunk, do not need.
 *
 * Policy:
 * - The core chunk compiles from this cache; the runtime chunk it requires as it loads
 *   compiles as is (a few lines). The first chunk a command loads after them (create, ls...)
 *   turns Node's compile cache on, for it and everything it loads from node_modules.
 * - One cache per command (`env`, `ls`...): commands run different functions and a cache is
 *   deserialized whole, so `env` should not pay for what `create` compiled. The command is
 *   the first argument; flags before it (`--debug env`) share one cache. A cache is written
 *   only for a real command, so a typo leaves no file.
 * - Made on the first run of a command after a build (or a Node upgrade) and used while the
 *   chunk file is the one it was made from. V8 checks only the source's length, so the file's
 *   path, size and mtime head the cache file and any difference is a miss, never stale code.
 * - A cache made by a run that did not do the command's work (`env --help`, a failure) holds
 *   too little (`env` then took 12.5 ms over a bare node instead of 10.9): it is marked
 *   partial and made again by the first run that succeeds. A successful run's cache stays.
 * - Named for the installation too (a hash of the chunk's directory): two copies of machine
 *   run in turn would otherwise replace each other's cache on every run.
 * - Kept per user, as code this process will run must be: in $XDG_CACHE_HOME/machine (or
 *   ~/.cache/machine), one directory per Node version. NODE_DISABLE_COMPILE_CACHE turns it off
 *   as it does Node's own.
 * - A cache that cannot be read or written costs speed only: the chunk compiles as before.
 */

// Node's CommonJS wrapper, with the chunk on the wrapper's line so that positions in stacks
// stay right (the column offset takes the prefix back off).
const PREFIX = '(function (exports, require, module, __filename, __dirname) { ';
const SUFFIX = '\n});';
const SHARED = '_';

type Loader = (module: NodeJS.Module, filename: string) => void;

export interface CoreCodeCache {
  /**
   * Writes the cache when this run had none (or V8 rejected it, or it was partial and this run
   * is `complete`) and its command is one the CLI knows. Call once the command has finished,
   * so that what it ran is compiled. `complete`: the run did the command's work (it succeeded
   * and was not a request for help).
   */
  save(isCommand: (name: string) => boolean, complete: boolean): void;
}

type Grade = 'complete' | 'partial';

/** Where the caches live, or undefined when caching is off. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'machine', 'v8', `${process.version}-${process.arch}`);
}

/** The cache's name for these arguments: the command, or the shared one. */
export function cacheName(argv: readonly string[]): string {
  const first = argv[0];
  return first !== undefined && /^[a-z][a-z0-9-]{0,31}$/.test(first) ? first : SHARED;
}

/**
 * Makes the next CommonJS file required (the core chunk, which main.ts imports next) compile
 * from the cache in `dir` for these arguments, and the first one after it turn Node's compile
 * cache on. Without a `dir`, Node's compile cache serves everything, the core chunk too.
 */
export function loadCoreWithCodeCache(dir: string | undefined, argv: readonly string[]): CoreCodeCache {
  // require.extensions is Module._extensions: how the CommonJS loader compiles a file. The
  // chunks are .cjs, which Node compiles with the .js loader unless told otherwise.
  const extensions = require.extensions as unknown as Record<string, Loader>;
  const own = Object.getOwnPropertyDescriptor(extensions, '.cjs');
  const restore = () => (own ? Object.defineProperty(extensions, '.cjs', own) : delete extensions['.cjs']);
  const asUsual: Loader = (module, filename) => (extensions['.cjs'] ?? extensions['.js']!)(module, filename);
  const name = cacheName(argv);
  let pending: Pending | undefined;
  let phase: 'core' | 'loading core' | 'after core' = 'core';

  if (!dir) {
    nodeCompileCache();
    return { save() {} };
  }
  extensions['.cjs'] = (module, filename) => {
    if (phase === 'loading core') {
      (own?.value ?? extensions['.js']!)(module, filename);
      return;
    }
    if (phase === 'after core') {
      restore();
      nodeCompileCache();
      asUsual(module, filename);
      return;
    }
    phase = 'loading core';
    try {
      pending = loadCore(module, filename, join(dir, `core-${name}-${pathHash(dirname(filename))}.v8`));
    } finally {
      phase = 'after core';
    }
  };

  return {
    save(isCommand, complete) {
      if (!pending || (name !== SHARED && !isCommand(name))) return;
      const { script, key, file, had } = pending;
      pending = undefined;
      // A cache V8 took stays unless it was partial and this run did the whole work.
      if (had === 'partial' && !complete) return;
      const grade: Grade = complete ? 'complete' : 'partial';
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(tmp, Buffer.concat([Buffer.from(`${key} ${grade}\n`, 'utf8'), script.createCachedData()]), { mode: 0o600 });
        // Whole or not at all: a concurrent run reads the old cache or this one.
        renameSync(tmp, file);
      } catch {
        // A read-only or full disk: the next run compiles from source again.
        try {
          rmSync(tmp, { force: true });
        } catch {
          // Nothing was written.
        }
      }
    },
  };
}

/** What save() may write: the script, its key, where, and the grade of the cache V8 took. */
interface Pending {
  script: Script;
  key: string;
  file: string;
  had?: Grade;
}

/** Compiles and runs the core chunk; what save() may write, unless the cache is complete. */
function loadCore(module: NodeJS.Module, filename: string, file: string): Pending | undefined {
  const { code, key } = readWrapped(filename);
  const cached = readCache(file, key);
  const cachedData = cached?.data;
  const script = new Script(code, {
    filename,
    columnOffset: -PREFIX.length,
    cachedData,
    // No importModuleDynamically: import() here would need Node's experimental loader option,
    // which warns on stderr. The build keeps import() out of the core chunk (scripts/bundle.mjs).
  });
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, (id: string) => module.require(id), module, filename, dirname(filename));
  if (cachedData === undefined || script.cachedDataRejected) return { script, key, file };
  return cached!.grade === 'partial' ? { script, key, file, had: 'partial' } : undefined;
}

/**
 * The chunk inside the wrapper, as one string made once, and the key of its cache. Read
 * between the wrapper's ends in one buffer: joining strings made a second copy of the chunk
 * (84 KB) on the young heap, and with the first it tipped `machine active` into a 3 ms
 * scavenge while it waited for its TCP probe. The chunk is ASCII (rolldown.config.mjs), so
 * its bytes are its characters.
 */
function readWrapped(filename: string): { code: string; key: string } {
  const fd = openSync(filename, 'r');
  try {
    const { size, mtimeMs } = fstatSync(fd);
    const buf = Buffer.allocUnsafe(PREFIX.length + size + SUFFIX.length);
    buf.write(PREFIX, 0, 'latin1');
    for (let at = 0; at < size; ) {
      const n = readSync(fd, buf, PREFIX.length + at, size - at, at);
      if (n === 0) throw new Error(`${filename}: shorter than its size`);
      at += n;
    }
    buf.write(SUFFIX, PREFIX.length + size, 'latin1');
    const code = isAscii(buf) ? buf.toString('latin1') : PREFIX + buf.toString('utf8', PREFIX.length, PREFIX.length + size) + SUFFIX;
    return { code, key: `${filename} ${size} ${mtimeMs}` };
  } finally {
    closeSync(fd);
  }
}

/**
 * The cached data after the header line (`key grade`), or undefined when there is none made
 * from this file.
 */
function readCache(file: string, key: string): { data: Buffer; grade: Grade } | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  const end = bytes.indexOf(10);
  const header = end < 0 ? '' : bytes.toString('utf8', 0, end);
  const grade = header.slice(header.lastIndexOf(' ') + 1);
  if (header !== `${key} ${grade}` || (grade !== 'complete' && grade !== 'partial')) return undefined;
  return { data: bytes.subarray(end + 1), grade };
}

/** A short name for an installation's directory (FNV-1a; no need for node:crypto here). */
function pathHash(path: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Node's own compile cache, for whatever loads from here on. */
function nodeCompileCache(): void {
  process.getBuiltinModule('node:module').enableCompileCache?.();
}
