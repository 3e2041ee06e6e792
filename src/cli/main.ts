#!/usr/bin/env node
import { enableCompileCache } from 'node:module';
// Cached compiled code makes every later start faster (`env` and `ls` run in loops). It has
// to be on before the rest loads, hence the dynamic import below.
enableCompileCache?.();

import('./run.js')
  .then(({ run }) => run(process.argv.slice(2)))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`Error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
