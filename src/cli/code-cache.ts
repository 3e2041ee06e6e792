// Built-ins straight from Node's table, not through require(): this runs before anything else
// of ours, and the loader's first requires cost 0.1 ms more for these four.
const { isAscii } = process.getBuiltinModule('node:buffer');
const { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, rmdirSync, statSync } = process.getBuiltinModule('node:fs');
const { basename, dirname, join, resolve } = process.getBuiltinModule('node:path');
const { Script } = process.getBuiltinModule('node:vm');
import { digest, machineCacheDir, removeWhere, writeWhole } from './cache-files.js';
// Node's own, even where a recording (answer-cache.ts) stands in for it later.
const builtinModule = process.getBuiltinModule;

/**
 * V8 code caches for our chunks, made after a command ran.
 *
 * Why: V8 compiles a function the first time it runs, and Node's compile cache
 * (module.enableCompileCache) is written when a file is compiled, before any of it ran: it
 * holds the top level and nothing a command calls. So every `machine env` parsed and compiled
 * the same functions again; under callgrind that was 40% of the instructions env spends over a
 * bare node. A cache created after the command ran (vm.Script#createCachedData) holds them.
 * And turning Node's cache on loads node:module and its ESM loader (1.2 ms), which a command
 * that loads nothing but our chunks does not need.
 *
 * Policy:
 * - Every chunk of ours (the directory of the first chunk required through it, the core: dist/chunks)
 *   compiles from this cache, the core and whatever a command loads beyond it (ls: the
 *   listing, the TLS client, the template engine). A chunk that calls import() loads as usual:
 *   under vm.Script it would need Node's experimental loader option, which warns on stderr.
 * - The first file from anywhere else (node_modules: ssh2, the cloud SDKs) turns Node's
 *   compile cache on, for it and everything after it.
 * - One cache file per command (`env`, `ls`...), with an entry per chunk it loaded: commands
 *   run different functions and an entry is deserialized whole, so `env` should not pay for
 *   what `create` compiled. The command is the first argument; flags before it (`--debug
 *   env`) share one cache. A cache is written only for a real command, so a typo leaves no file.
 * - Made on the first run of a command after a build (or a Node upgrade), and again when a run
 *   loads a chunk the file has no usable entry for (ls reached a machine for the first time).
 *   An entry is used while its chunk file is the one it was made from: V8 checks only the
 *   source's length, so the chunk's size and mtime head its entry and any difference is a
 *   miss, never stale code. Entries of chunks a run did not load are kept while their chunk is
 *   unchanged.
 * - An entry made by a run that did not do the command's work (`env --help`, a failure) holds
 *   too little (`env` then took 12.5 ms over a bare node instead of 10.9): it is marked
 *   partial and made again by the first run that succeeds. A successful run's entry stays.
 * - Named for the installation too (a hash of the chunks' directory): two copies of machine
 *   run in turn would otherwise replace each other's cache on every run. Each file names its
 *   chunks' directory, and writing one removes the files (under every Node version) whose
 *   directory is gone: every copy run from a new place (a clone, an npx directory) added a file
 *   per command that nothing removed. A file of an older format, which names none, goes when
 *   nothing has written it for 30 days (the older machine that uses it makes it again).
 * - Kept per user, as code this process will run must be: in $XDG_CACHE_HOME/machine (or
 *   ~/.cache/machine), one directory per Node version. NODE_DISABLE_COMPILE_CACHE turns it off
 *   as it does Node's own.
 * - A cache that cannot be read or written costs speed only: the chunks compile as before.
 * - Our chunks find each other by name, not through Node's resolver (see requireFrom); each
 *   is still one module in require.cache, loaded once, and one that is missing fails with
 *   Node's own error.
 */

// Node's CommonJS wrapper, with the chunk on the wrapper's line so that positions in stacks
// stay right (the column offset takes the prefix back off).
const PREFIX = '(function (exports, require, module, __filename, __dirname) { ';
const SUFFIX = '\n});';
const SHARED = '_';
// The first line of a cache file; another format (an older machine's) is a miss.
const MAGIC = 'machine-code-cache 3';

type Loader = (module: NodeJS.Module, filename: string) => void;

/** What of node:module's Module class is used here, reached through a module object so that node:module need not load. */
interface ModuleClass {
  new (id: string, parent: NodeJS.Module): NodeJS.Module;
  prototype: { require(this: NodeJS.Module, id: string): unknown };
  _nodeModulePaths(dir: string): string[];
}

export interface CodeCache {
  /**
   * Writes the cache when this run loaded a chunk it had no usable entry for (or a partial one,
   * and this run is `complete`) and its command is one the CLI knows. Call once the command
   * has finished, so that what it ran is compiled. `complete`: the run did the command's work
   * (it succeeded and was not a request for help).
   */
  save(isCommand: (name: string) => boolean, complete: boolean): void;
}

/**
 * Sees what our chunks require (the answer cache records a run through it): `builtin` may
 * hand back a stand-in for the module; `foreign` hears of anything not ours or built in.
 */
export interface RequireWatch {
  builtin(id: string, mod: unknown): unknown;
  foreign(id: string): void;
}

type Grade = 'complete' | 'partial';

/** One chunk's entry in a cache file: made from the chunk of this size and mtime. */
interface Entry {
  stamp: string;
  grade: Grade;
  data: Buffer;
}

/** A chunk this run compiled, and the grade of the entry V8 took for it, if any. */
interface Loaded {
  script: import('node:vm').Script;
  stamp: string;
  had?: Grade;
}

/** Where the caches live, or undefined when caching is off. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  return join(machineCacheDir(env), 'v8', `${process.version}-${process.arch}`);
}

/** The cache's name for these arguments: the command, or the shared one. */
export function cacheName(argv: readonly string[]): string {
  const first = argv[0];
  return first !== undefined && /^[a-z][a-z0-9-]{0,31}$/.test(first) ? first : SHARED;
}

/**
 * Makes our chunks (the directory of the next CommonJS file required: the core chunk, which
 * start.ts imports next) compile from the cache in `dir` for these arguments, and the first
 * file from elsewhere turn Node's compile cache on. Without a `dir`, Node's compile cache
 * serves everything. `main` is the module that requires the core (start.ts's own): its require
 * and the chunks' find our chunks by name (requireFrom below).
 */
export function loadChunksWithCodeCache(dir: string | undefined, argv: readonly string[], main: NodeJS.Module = module, watch?: RequireWatch): CodeCache {
  if (!dir) {
    nodeCompileCache();
    return { save() {} };
  }
  // require.extensions is Module._extensions: how the CommonJS loader compiles a file. The
  // chunks are .cjs, which Node compiles with the .js loader unless told otherwise.
  const extensions = require.extensions as unknown as Record<string, Loader>;
  const own = new Map(['.cjs', '.js', '.mjs'].map((ext) => [ext, Object.getOwnPropertyDescriptor(extensions, ext)]));
  const original = (ext: string): Loader => own.get(ext)?.value ?? extensions['.js']!;
  const name = cacheName(argv);
  let chunks: string | undefined;
  let file: string | undefined;
  let entries: Map<string, Entry> | undefined;
  const loaded = new Map<string, Loaded>();

  // The loaders of files from elsewhere, watched until the first such file loads.
  const watched = ['.js', '.mjs'].filter((ext) => own.get(ext));
  let elsewhereSeen = false;
  const fromElsewhere = () => {
    if (elsewhereSeen) return;
    elsewhereSeen = true;
    for (const ext of watched) Object.defineProperty(extensions, ext, own.get(ext)!);
    nodeCompileCache();
  };
  for (const ext of watched) {
    extensions[ext] = (module, filename) => {
      fromElsewhere();
      original(ext)(module, filename);
    };
  }
  extensions['.cjs'] = (module, filename) => {
    chunks ??= dirname(filename);
    const wrapped = dirname(filename) === chunks ? readWrapped(filename) : undefined;
    if (!wrapped || wrapped.dynamicImport) {
      fromElsewhere();
      original('.cjs')(module, filename);
      return;
    }
    file ??= join(dir, `${name}-${digest(chunks).slice(0, 8)}.v8`);
    entries ??= readCacheFile(file);
    const chunk = basename(filename);
    const entry = entries.get(chunk);
    const cachedData = entry?.stamp === wrapped.stamp ? entry.data : undefined;
    const script = new Script(wrapped.code, { filename, columnOffset: -PREFIX.length, cachedData });
    loaded.set(chunk, { script, stamp: wrapped.stamp, had: cachedData && !script.cachedDataRejected ? entry!.grade : undefined });
    const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
    wrapper.call(module.exports, module.exports, (id: string) => requireFrom(module, id), module, filename, dirname(filename));
  };

  // A chunk requires another by its relative name (`./ls-XXXX.cjs`), and main requires the core
  // (`../chunks/core-XXXX.cjs`). Those files are known without Node's resolver, which stats,
  // realpaths and looks for package.json scopes on the way: 0.5 ms for the core and 0.25 for
  // each chunk after it, on every run. Anything else (built-ins, node_modules) goes to Node.
  const Module = main.constructor as ModuleClass;
  const nodeRequire = Module.prototype.require;
  let chunkPaths: string[] | undefined;
  const requireFrom = (parent: NodeJS.Module, id: string): unknown => {
    // Built-ins without the loader's hooks and bookkeeping: 0.1 ms for the core's five.
    if (id.startsWith('node:')) {
      const mod = builtinModule(id) ?? nodeRequire.call(parent, id);
      return watch ? watch.builtin(id, mod) : mod;
    }
    const foreign = (): unknown => {
      watch?.foreign(id);
      return nodeRequire.call(parent, id);
    };
    if (!id.startsWith('.') || !id.endsWith('.cjs')) return foreign();
    const filename = resolve(dirname(parent.filename), id);
    chunks ??= dirname(filename);
    if (dirname(filename) !== chunks) return foreign();
    const known = require.cache[filename];
    if (known) return known.exports;
    const child = new Module(filename, parent);
    child.filename = filename;
    child.paths = (chunkPaths ??= Module._nodeModulePaths(chunks));
    require.cache[filename] = child;
    try {
      extensions['.cjs']!(child, filename);
    } catch (err) {
      delete require.cache[filename];
      // A chunk that is not there: Node's own error says so.
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT' && e.syscall === 'open' && e.path === filename) return nodeRequire.call(parent, id);
      throw err;
    }
    child.loaded = true;
    return child.exports;
  };
  main.require = ((id: string) => requireFrom(main, id)) as NodeJS.Require;

  return {
    save(isCommand, complete) {
      if (!file || !chunks || (name !== SHARED && !isCommand(name))) return;
      // Entries V8 took stay unless they were partial and this run did the whole work.
      const stale = [...loaded.values()].some((l) => l.had === undefined || (l.had === 'partial' && complete));
      if (!stale) return;
      const out = new Map<string, Entry>();
      for (const [chunk, l] of loaded) {
        const old = entries?.get(chunk);
        out.set(chunk, !complete && l.had === 'complete' ? old! : { stamp: l.stamp, grade: complete ? 'complete' : 'partial', data: l.script.createCachedData() });
      }
      for (const [chunk, e] of entries ?? []) {
        if (!out.has(chunk) && stampOf(join(chunks, chunk)) === e.stamp) out.set(chunk, e);
      }
      writeCacheFile(file, chunks, out);
      removeOrphans(dirname(dir), file);
    },
  };
}

/** What an entry must have been made from: its chunk's size and mtime. */
const stamp = ({ size, mtimeMs }: { size: number; mtimeMs: number }) => `${size} ${mtimeMs}`;

/** The stamp of a chunk file, or undefined when it is gone. */
function stampOf(filename: string): string | undefined {
  try {
    return stamp(statSync(filename));
  } catch {
    return undefined;
  }
}

/**
 * The chunk inside the wrapper, as one string made once, and its stamp. Read between the
 * wrapper's ends in one buffer: joining strings made a second copy of the chunk (84 KB for the
 * core) on the young heap, and with the first it tipped `machine active` into a 3 ms scavenge
 * while it waited for its TCP probe. The chunks are ASCII (rolldown.config.mjs), so their bytes
 * are their characters.
 */
function readWrapped(filename: string): { code: string; stamp: string; dynamicImport: boolean } {
  const fd = openSync(filename, 'r');
  try {
    const stats = fstatSync(fd);
    const { size } = stats;
    const buf = Buffer.allocUnsafe(PREFIX.length + size + SUFFIX.length);
    buf.write(PREFIX, 0, 'latin1');
    for (let at = 0; at < size; ) {
      const n = readSync(fd, buf, PREFIX.length + at, size - at, at);
      if (n === 0) throw new Error(`${filename}: shorter than its size`);
      at += n;
    }
    buf.write(SUFFIX, PREFIX.length + size, 'latin1');
    const code = isAscii(buf) ? buf.toString('latin1') : PREFIX + buf.toString('utf8', PREFIX.length, PREFIX.length + size) + SUFFIX;
    return { code, stamp: stamp(stats), dynamicImport: buf.includes('import(', PREFIX.length, 'latin1') };
  } finally {
    closeSync(fd);
  }
}

/**
 * A cache file's entries by chunk file name; none when it is missing or not of this format.
 * The file: MAGIC, the chunks' directory (URI-encoded), a line per entry (`grade length size
 * mtime chunk`), an empty line, and the entries' data in the same order, each at an offset
 * that is a multiple of 8: V8 copies cached data that is not pointer-aligned into fresh memory
 * (150 KB for the core), and a file read whole lands in an aligned buffer.
 */
function readCacheFile(file: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return entries;
  }
  const headerEnd = bytes.indexOf('\n\n');
  if (headerEnd < 0) return entries;
  const [magic, , ...lines] = bytes.toString('latin1', 0, headerEnd).split('\n');
  if (magic !== MAGIC) return entries;
  let at = aligned(headerEnd + 2);
  for (const line of lines) {
    const m = /^(complete|partial) (\d+) (\d+ [\d.]+) (\S+)$/.exec(line);
    if (!m) return new Map();
    const length = Number(m[2]);
    if (at + length > bytes.length) return new Map();
    entries.set(m[4]!, { grade: m[1] as Grade, stamp: m[3]!, data: bytes.subarray(at, at + length) });
    at = aligned(at + length);
  }
  return entries;
}

/** The next offset from `n` at which an entry's data starts (see readCacheFile). */
const aligned = (n: number) => Math.ceil(n / 8) * 8;

function writeCacheFile(file: string, chunks: string, entries: Map<string, Entry>): void {
  // The directory URI-encoded: the header is Latin-1, and a path need not be.
  const lines = [MAGIC, encodeURIComponent(chunks), ...[...entries].map(([chunk, e]) => `${e.grade} ${e.data.length} ${e.stamp} ${chunk}`)];
  const parts: Buffer[] = [Buffer.from(`${lines.join('\n')}\n\n`, 'latin1')];
  let size = parts[0]!.length;
  for (const e of entries.values()) {
    parts.push(Buffer.alloc(aligned(size) - size), e.data);
    size = aligned(size) + e.data.length;
  }
  writeWhole(file, Buffer.concat(parts));
}

const ORPHAN_AFTER_MS = 30 * 24 * 3600 * 1000;

/**
 * Removes the cache files under `root` (one directory per Node version) of installations that
 * are gone, and the version directories left empty; `own` was just written.
 */
function removeOrphans(root: string, own: string): void {
  let versions: string[];
  try {
    versions = readdirSync(root);
  } catch {
    return;
  }
  const now = Date.now();
  for (const version of versions) {
    const dir = join(root, version);
    if (removeWhere(dir, own, '.v8', (file) => orphaned(file, now)) !== 0) continue;
    try {
      rmdirSync(dir);
    } catch {
      // A file written meanwhile: the next write looks again.
    }
  }
}

/** Whether a cache file's installation is gone (see the policy above). */
function orphaned(file: string, now: number): boolean {
  const head = Buffer.alloc(4096);
  const fd = openSync(file, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const [magic, chunks] = head.toString('latin1', 0, n).split('\n');
  if (magic === MAGIC && chunks) {
    let dir: string;
    try {
      dir = decodeURIComponent(chunks);
    } catch {
      return false; // not written by us: left alone
    }
    return !statSync(dir, { throwIfNoEntry: false })?.isDirectory();
  }
  return now - statSync(file).mtimeMs > ORPHAN_AFTER_MS;
}

/** Node's own compile cache, for whatever loads from here on. */
function nodeCompileCache(): void {
  process.getBuiltinModule('node:module').enableCompileCache?.();
}
