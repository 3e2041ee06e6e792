#!/usr/bin/env node
import { answerCache } from './answer-cache.js';
import { codeCacheDir, loadChunksWithCodeCache, machineCacheDir } from './code-cache.js';

const argv = process.argv.slice(2);
// env, config, url, ip and active give their last answer again while nothing it came from
// changed (./answer-cache.ts): without loading the core at all.
const answers = answerCache(machineCacheDir());

async function main(): Promise<number> {
  if (await answers?.replay()) return 0;
  const recording = answers?.recording();
  // Cached compiled code makes every later start faster (`env` and `ls` run in loops): our
  // chunks, from the core imported below on, come with the functions the command ran last
  // time, and Node's compile cache serves what loads from node_modules (./code-cache.ts).
  const codeCache = loadChunksWithCodeCache(codeCacheDir(), argv, undefined, recording?.watch);
  const { run, commands } = await import('./run.js');
  const code = await run(argv, { tap: recording?.tap });
  recording?.finish(code);
  const isCommand = (name: string) => commands.some((c) => c.name === name || c.aliases?.includes(name));
  // Help and failures run little of a command: their caches are partial (./code-cache.ts).
  codeCache.save(isCommand, code === 0 && !argv.includes('--help') && !argv.includes('-h'));
  return code;
}

main().then(
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
