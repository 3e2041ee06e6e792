// Our own code is bundled (dependencies stay in node_modules) as CommonJS: a command then
// starts without the ESM loader and with a handful of files instead of dozens. Together
// that is most of what `machine env` costs over a bare `node`.
export default {
  input: { 'cli/main': 'src/cli/main.ts', 'demo/main': 'src/demo/main.ts', plugin: 'src/plugin.ts' },
  // valibot is bundled too: tree-shaken to the few validators the schema uses, it costs
  // `env` nothing to resolve or load; so are p-limit and its queue (ESM-only, a few lines).
  // Every other dependency loads from node_modules.
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !/^[A-Za-z]:/.test(id) && !['valibot', 'p-limit', 'yocto-queue'].includes(id),
  output: {
    dir: 'dist',
    format: 'cjs',
    entryFileNames: '[name].cjs',
    chunkFileNames: 'chunks/[name]-[hash].cjs',
  },
  platform: 'node',
};
