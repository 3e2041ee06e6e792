import { Module, createRequire, enableCompileCache } from 'node:module';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

/**
 * A V8 code cache for the chunks the fast commands load (env, config, url, ip, active), made
 * after the command ran.
 *
 * Node's compile cache (module.enableCompileCache) stores a module as compiled before it
 * runs, so every function in it still compiles lazily on every start: about 2 ms of
 * `machine env`'s 10 over bare node. The cache made here at exit holds the functions the run
 * compiled, and the next start skips them. V8 checks a cache against the source, its own
 * version and its flags, and rejects a stale or damaged one, which is then rewritten; a cache
 * that cannot be read or written costs the speed-up and nothing else.
 *
 * Every other module (the other chunks, ssh2, the cloud SDKs) is Node's to compile, with its
 * compile cache, which is switched on when the first of them loads: the fast commands load
 * none, and switching it on costs them half a millisecond. They must not need import()
 * either, which node:vm offers only behind an experimental option (drivers/import-esm.ts).
 *
 * The files live in the user's cache directory, never in a shared /tmp: V8 trusts the
 * bytecode in a cache it accepts.
 */

/** The chunks a fast command loads (rolldown.config.mjs names them). */
const FAST_CHUNK = /^(core|rolldown-runtime)-[\w-]+\.cjs$/;

type Compile = (this: Module, content: string, filename: string, format?: string) => unknown;

/** Where the caches go: per user and per Node build (a cache from another Node is always rejected). */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = env.XDG_CACHE_HOME || (env.HOME ? join(env.HOME, '.cache') : undefined);
  return base && join(base, 'machine', 'code-cache', `${process.version}-${process.arch}`);
}

/** Loads the fast chunks in chunksDir through the cache; to call once, before the first chunk loads. */
export function installCodeCache(chunksDir: string): void {
  const dir = codeCacheDir();
  // Node's switch for its compile cache turns this one off too (tests, coverage).
  if (!dir || process.env.NODE_DISABLE_COMPILE_CACHE) {
    enableCompileCache?.();
    return;
  }
  const proto = Module.prototype as unknown as { _compile: Compile };
  const nodeCompile = proto._compile;
  const toSave: Array<{ file: string; script: Script }> = [];
  let nodeCacheOn = false;
  proto._compile = function (content, filename, format) {
    if (dirname(filename) !== chunksDir || !FAST_CHUNK.test(basename(filename))) {
      if (!nodeCacheOn) enableCompileCache?.();
      nodeCacheOn = true;
      return nodeCompile.call(this, content, filename, format);
    }
    const file = join(dir, `${basename(filename)}.v8`);
    let cachedData: Buffer | undefined;
    try {
      cachedData = readFileSync(file);
    } catch {
      // No cache yet: this run makes it.
    }
    const script = new Script(Module.wrap(content), { filename, ...(cachedData ? { cachedData } : {}) });
    if (!cachedData || script.cachedDataRejected) toSave.push({ file, script });
    const wrapper = script.runInThisContext() as (...args: unknown[]) => unknown;
    const require = createRequire(filename);
    return wrapper.call(this.exports, this.exports, require, this, filename, dirname(filename));
  };
  process.once('exit', () => {
    for (const { file, script } of toSave) {
      try {
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        renameSync(tmp, file);
      } catch {
        // A read-only or full disk: the next run compiles lazily again, as Node would.
      }
    }
  });
}
