#!/usr/bin/env node
import { answerCache } from './answer-cache.js';
import { machineCacheDir } from './cache-files.js';

const argv = process.argv.slice(2);
// env, config, url, ip, active and ls give their last answer again while nothing it came from
// changed (./answer-cache.ts), without loading the core at all. This file holds only that;
// the rest of the start (the code cache, the recording, the command) loads when it cannot.
const answers = answerCache(machineCacheDir());

async function main(): Promise<number> {
  if (await answers?.replay()) return 0;
  const { start } = await import('./start.js');
  return start(argv, answers);
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
