import { spawn } from 'node:child_process';
import { shQuote } from '../../src/sys/shell-quote.js';

// A command on a real pseudo-terminal (util-linux `script`), for what only happens where a
// person sits: live progress, prompts. Keys are typed with send(); output is the terminal's.
export interface PtyRun {
  output(): string;
  /** The output without escape sequences and carriage returns, as a person reads it. */
  text(): string;
  send(keys: string): void;
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  done: Promise<{ code: number; output: string }>;
}

export const ENTER = '\r';
export const DOWN = '\x1b[B';

export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b\][^\x07]*\x07/g, '').replace(/\r/g, '');
}

export function onPty(argv: string[], env: Record<string, string | undefined> = {}): PtyRun {
  // A size, as a real terminal has one (a bare pty reports 0x0).
  const command = `stty cols 120 rows 40; exec ${argv.map(shQuote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, TERM: 'xterm-256color', CI: undefined, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<() => void> = [];
  const take = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const done = new Promise<{ code: number; output: string }>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, output: out })));
  return {
    output: () => out,
    text: () => stripAnsi(out),
    send: (keys) => void child.stdin.write(keys),
    waitFor(pattern, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${pattern} in:\n${stripAnsi(out).slice(-2000)}`)), ms);
        const check = () => {
          if (pattern.test(stripAnsi(out))) {
            clearTimeout(deadline);
            resolve();
          } else {
            waiters.push(check);
          }
        };
        check();
      });
    },
    done,
  };
}
