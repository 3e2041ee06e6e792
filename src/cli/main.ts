#!/usr/bin/env node
import { enableCompileCache } from 'node:module';
// Cached compiled code makes every later start faster; `env` and `ls` are run in loops.
enableCompileCache?.();

import { run } from './run.js';

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`Error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
