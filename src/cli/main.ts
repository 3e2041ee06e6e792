#!/usr/bin/env node
import { codeCacheDir, loadChunksWithCodeCache } from './code-cache.js';
// Cached compiled code makes every later start faster (`env` and `ls` run in loops): our
// chunks, from the core imported below on, come with the functions the command ran last
// time, and Node's compile cache serves what loads from node_modules (./code-cache.ts).
const argv = process.argv.slice(2);
const codeCache = loadChunksWithCodeCache(codeCacheDir(), argv);

import('./run.js')
  .then(async ({ run, commands }) => {
    const code = await run(argv);
    const isCommand = (name: string) => commands.some((c) => c.name === name || c.aliases?.includes(name));
    // Help and failures run little of a command: their caches are partial (./code-cache.ts).
    codeCache.save(isCommand, code === 0 && !argv.includes('--help') && !argv.includes('-h'));
    return code;
  })
  .then(
    (code) => {
      // Out at once, as a Go CLI is: the output is written (stdout and stderr are synchronous
      // on Linux), and what is left is teardown no one waits for, such as sockets closing
      // (ls of one machine: 3 ms). A plugin is killed by its 'exit' handler.
      process.exit(code);
    },
    (err: unknown) => {
      process.stderr.write(`Error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
