import type { AnswerCache } from './answer-cache.js';
import { recordRun } from './answer-record.js';
import { codeCacheDir, loadChunksWithCodeCache } from './code-cache.js';

/**
 * The command, run in full: no answer could be given (./answer-cache.ts). Loaded by main only
 * then, so that a given answer never compiles this, the recording or the code cache's loader.
 */
export async function start(argv: string[], answers: AnswerCache | undefined): Promise<number> {
  const recording = answers && recordRun(answers.file, answers.key);
  // Cached compiled code makes every later start faster (`env` and `ls` run in loops): our
  // chunks, from the core imported below on, come with the functions the command ran last
  // time, and Node's compile cache serves what loads from node_modules (./code-cache.ts).
  const codeCache = loadChunksWithCodeCache(codeCacheDir(), argv, module, recording?.watch);
  const { run, commands } = await import('./run.js');
  const code = await run(argv, { tap: recording?.tap });
  recording?.finish(code);
  const isCommand = (name: string) => commands.some((c) => c.name === name || c.aliases?.includes(name));
  // Help and failures run little of a command: their caches are partial (./code-cache.ts).
  codeCache.save(isCommand, code === 0 && !argv.includes('--help') && !argv.includes('-h'));
  return code;
}
