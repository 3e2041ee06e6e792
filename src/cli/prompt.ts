import { createInterface } from 'node:readline/promises';

/**
 * Docker Machine's y/n question on stdout, answered by a line on stdin; a plain line read
 * (not a TTY widget) so that `echo y | machine rm NAME` keeps working in scripts. No answer
 * (stdin at its end, as without a terminal) is a no: nothing waits for input that cannot come.
 */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: false });
  try {
    return await new Promise<boolean>((resolve) => {
      rl.once('close', () => resolve(false));
      rl.question(question).then(
        (answer) => resolve(/^y(es)?$/i.test(answer.trim())),
        () => resolve(false),
      );
    });
  } finally {
    rl.close();
  }
}

/** A person is there to answer: both ends of the terminal are one. */
export function interactive(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/**
 * A yes/no question: on a terminal, inquirer's prompt (arrow keys, a default, Ctrl-C is a no);
 * elsewhere Docker Machine's plain line, so piped answers keep working and nothing waits
 * for input that cannot come.
 */
export async function ask(question: string, opts: { default?: boolean } = {}): Promise<boolean> {
  if (!interactive()) return confirm(`${question} (y/n): `);
  const { confirm: inquire } = await import('@inquirer/prompts');
  try {
    return await inquire({ message: question, default: opts.default ?? false });
  } catch {
    // ExitPromptError: Ctrl-C or a closed terminal.
    return false;
  }
}
