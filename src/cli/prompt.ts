import { createInterface } from 'node:readline/promises';

/**
 * Docker Machine's y/n question on stdout, answered by a line on stdin; a plain line read
 * (not a TTY widget) so that `echo y | machine rm NAME` keeps working in scripts.
 */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: false });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
