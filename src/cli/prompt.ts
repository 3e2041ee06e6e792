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
