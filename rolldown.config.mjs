// Our own code is bundled (with the dependencies BUNDLED names) as CommonJS: a command then
// starts without the ESM loader and with a handful of files instead of dozens. Together
// that is most of what `machine env` costs over a bare `node`.
const FAST_PATH = [
  'src/cli/run.ts',
  ...['env', 'config', 'url', 'ip', 'active', 'common'].map((c) => `src/cli/commands/${c}.ts`),
  'src/host/listing.ts',
  'src/host/context.ts',
  'src/drivers/generic/index.ts',
  'src/drivers/none/index.ts',
];

/** What the core chunk may load with it: Node built-ins that cost a fast command nothing it does not use. */
export const CORE_IMPORTS = ['node:fs', 'node:path', 'node:util', 'node:url'];

/**
 * Dependencies bundled into our chunks; every other one loads from node_modules.
 * - valibot: tree-shaken to the few validators the schema uses, it costs `env` nothing to
 *   resolve or load; p-limit and its queue: ESM-only, a few lines.
 * - What create, provision, ssh and the store's writers load (ssh2 with its own dependencies,
 *   the lock and atomic-write libraries, forge's DER encoder): in our chunks they compile from
 *   the code cache made after a run (src/cli/code-cache.ts), which holds every function the
 *   command ran; from node_modules, Node's compile cache holds their top level only and the
 *   rest compiled again on every run, besides 51 more files to resolve and read. A docker
 *   create's CLI took 0.20 core-seconds, 0.15 bundled. ssh2's optional native binding (built
 *   only where a compiler was at hand at install; not here or on CI) is not found from a
 *   bundle: it falls back to its JavaScript and Node's crypto, as without the binding.
 * The cloud SDKs, the prompts and the progress display stay out: large, and loaded only by the
 * commands that use them.
 */
const BUNDLED = [
  'valibot', 'p-limit', 'yocto-queue',
  'ssh2', 'asn1', 'bcrypt-pbkdf', 'tweetnacl', 'safer-buffer',
  'proper-lockfile', 'graceful-fs', 'retry', 'signal-exit', 'write-file-atomic',
  'node-forge', 'proxy-from-env',
];
const bundled = (id) => BUNDLED.some((p) => id === p || id.startsWith(`${p}/`));

export default {
  input: { 'cli/main': 'src/cli/main.ts', 'demo/main': 'src/demo/main.ts', plugin: 'src/plugin.ts' },
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !/^[A-Za-z]:/.test(id) && !bundled(id),
  output: {
    dir: 'dist',
    // The commands scripts call in a loop (env, config, url, ip, active) and the generic and
    // none drivers, with everything they import, in one chunk: each chunk file costs a
    // resolve, two stats and a compile-cache read, and split by default they were 17 files,
    // about 12 ms of `machine env`'s 25 over bare node. Their static imports are Node
    // built-ins only; heavy modules (ssh2, TLS, the cloud SDKs) stay behind dynamic imports,
    // and the build checks that (scripts/bundle.mjs).
    codeSplitting: {
      groups: [{ name: 'core', test: (id) => id.includes('rolldown/runtime') || FAST_PATH.some((root) => id.endsWith(root)) }],
    },
    format: 'cjs',
    // `await import('node:net')` as require(), not import(): in CommonJS, import() goes through
    // the ESM loader, whose first use costs a few milliseconds and whose namespace for a
    // built-in copies its exports (`active`: 6.5 ms of a TCP probe's 9). Node 22 requires the
    // ESM-only packages (log-update, @inquirer/prompts) as well.
    dynamicImportInCjs: false,
    // Pure ASCII files: Node decodes them into one-byte strings at once, where a single '✔'
    // made it decode the whole core chunk the slow way (2.5 ms of `env`'s 12 over bare node).
    charset: 'ascii',
    // Whitespace, comments and local names out: the core chunk is 84 KB instead of 144, which
    // every command reads, hashes for the compile cache and deserializes (about 1.5 ms of
    // `env`). Function and class names stay: stacks under --debug name them, and the errors
    // name themselves from their class (src/errors.ts).
    minify: { compress: true, mangle: { keepNames: true }, codegen: { removeWhitespace: true } },
    entryFileNames: '[name].cjs',
    chunkFileNames: 'chunks/[name]-[hash].cjs',
  },
  platform: 'node',
};
