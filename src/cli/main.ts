#!/usr/bin/env node
import { enableCompileCache } from 'node:module';
// Cached compiled code makes every later start faster (`env` and `ls` run in loops). It has
// to be on before the rest loads, hence the dynamic import below.
enableCompileCache?.();

import('./run.js')
  .then(({ run }) => run(process.argv.slice(2)))
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
