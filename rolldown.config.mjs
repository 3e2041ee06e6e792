// Our own code is bundled (dependencies stay in node_modules) as CommonJS: a command then
// starts without the ESM loader and with a handful of files instead of dozens. Together
// that is most of what `machine env` costs over a bare `node`.
export default {
  input: { 'cli/main': 'src/cli/main.ts', 'demo/main': 'src/demo/main.ts' },
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !/^[A-Za-z]:/.test(id),
  output: {
    dir: 'dist',
    format: 'cjs',
    entryFileNames: '[name].cjs',
    chunkFileNames: 'chunks/[name]-[hash].cjs',
  },
  platform: 'node',
};
