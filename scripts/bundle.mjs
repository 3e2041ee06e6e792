// Bundles with rolldown's API rather than its CLI: the CLI prints a table of every chunk,
// and a build should print nothing unless it fails.
import { rolldown } from 'rolldown';
import config, { CORE_IMPORTS } from '../rolldown.config.mjs';

const { output, ...input } = config;
const bundle = await rolldown({ ...input, logLevel: 'warn' });
try {
  const { output: written } = await bundle.write(output);
  // The fast commands load the core chunk and nothing else: a static import of ssh2 or
  // node:https in one of its modules would cost every `machine env` its load time, silently.
  const core = written.find((c) => c.type === 'chunk' && c.name === 'core');
  if (!core) throw new Error('bundle: no core chunk (rolldown.config.mjs names one)');
  // main sets up the chunks' code cache (src/cli/code-cache.ts) and only then loads the core:
  // a module main shares with the core would put the core on main's first line, uncached.
  const main = written.find((c) => c.type === 'chunk' && c.fileName === 'cli/main.cjs');
  const early = main?.imports.filter((i) => i.startsWith('chunks/')) ?? [];
  if (early.length) {
    throw new Error(`bundle: cli/main.cjs loads ${early.join(', ')} before the code cache is set up; a module main imports is shared with a chunk (src/cli/main.ts, answer-cache.ts and cache-files.ts must import only Node built-ins at the top)`);
  }
  const heavy = core.imports.filter((i) => !i.startsWith('chunks/') && !CORE_IMPORTS.includes(i));
  if (heavy.length) {
    throw new Error(`bundle: the core chunk imports ${heavy.join(', ')} at load; import it where it is used (await import(...)) or add it to CORE_IMPORTS in rolldown.config.mjs`);
  }
  // Our chunks are compiled through vm.Script with a code cache (src/cli/code-cache.ts), where a
  // real import() fails unless an experimental option, which prints a warning, is given. A
  // chunk that has one loads as usual, without the cache: never the one every command loads.
  if (/\bimport\(/.test(core.code)) {
    throw new Error('bundle: the core chunk calls import() (a plugin is imported from src/drivers/plugin-import.ts, outside it); move the import() to a module of its own');
  }
} finally {
  await bundle.close();
}
