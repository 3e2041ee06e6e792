import { UsageError, progName } from '../../errors.js';
import type { Command } from '../context.js';

export const completion: Command = {
  name: 'completion',
  usage: 'bash|zsh|fish',
  description: 'Print the shell completion script: commands, flags (drivers\' too) and machine names',
  options: {},
  async run(_cli, parsed) {
    const shell = parsed.positionals[0] ?? '';
    const { completionScript } = await import('../complete.js');
    const script = completionScript(shell, progName());
    if (!script) throw new UsageError(`Usage: ${progName()} completion bash|zsh|fish (not "${shell}")`);
    process.stdout.write(script);
  },
};

/** What the completion scripts call: candidates for word INDEX of the words, one per line. */
export const complete: Command = {
  name: '__complete',
  usage: 'INDEX WORD...',
  description: 'Completion candidates (used by the completion scripts)',
  options: {},
  stopAtPositional: 1,
  async run(_cli, parsed) {
    const [index, ...words] = [...parsed.positionals, ...(parsed.rest ?? [])];
    const { complete: candidates } = await import('../complete.js');
    const out = await candidates(Number(index), words);
    if (out.length) process.stdout.write(`${out.join('\n')}\n`);
  },
};
