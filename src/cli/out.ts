// The CLI's plain output lines. Touching process.stdout builds a stream (and loads
// Node's whole stream machinery): about 5 ms of the 60 that `env` or `url` take. These
// writes go straight to the descriptor instead, which on Linux is what the stream does for
// files, pipes and terminals anyway, so lines written either way stay in order.
import { readlinkSync, writeSync } from 'node:fs';

function write(fd: 1 | 2, text: string): void {
  let buf = Buffer.from(text);
  while (buf.length) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A reader that went away (`machine ls | head -1`): the rest has no one to read it.
      if (code === 'EPIPE') return;
      // A descriptor someone left non-blocking and full: the stream knows how to wait.
      if (code === 'EAGAIN') {
        (fd === 1 ? process.stdout : process.stderr).write(buf);
        return;
      }
      throw err;
    }
  }
}

export const writeOut = (text: string): void => write(1, text);
export const writeErr = (text: string): void => write(2, text);

/**
 * Whether stdout is a terminal, without building process.stdout; node:tty would load net and
 * the streams too, so on Linux the descriptor's target answers (a pseudo-terminal, a virtual
 * console or a serial line), and elsewhere tty does.
 */
export function stdoutIsTty(): boolean {
  if (process.platform === 'linux') {
    try {
      return /^\/dev\/(pts\/\d+|tty\w*|console)$/.test(readlinkSync('/proc/self/fd/1'));
    } catch {
      // No /proc: ask tty.
    }
  }
  return process.getBuiltinModule('node:tty').isatty(1);
}
