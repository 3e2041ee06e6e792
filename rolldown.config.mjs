// Our own code is bundled (dependencies stay in node_modules) as CommonJS: a command then
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

export default {
  input: { 'cli/main': 'src/cli/main.ts', 'demo/main': 'src/demo/main.ts', plugin: 'src/plugin.ts' },
  // valibot is bundled too: tree-shaken to the few validators the schema uses, it costs
  // `env` nothing to resolve or load; so are p-limit and its queue (ESM-only, a few lines).
  // Every other dependency loads from node_modules.
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !/^[A-Za-z]:/.test(id) && !['valibot', 'p-limit', 'yocto-queue'].includes(id),
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
