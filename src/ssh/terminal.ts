import { constants } from 'node:os';
import type { ClientChannel, PseudoTtyOptions } from 'ssh2';

export interface TerminalIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  term?: string;
  cols?: number;
  rows?: number;
  /** Allocate a pty; by default only when stdin is a terminal, as OpenSSH decides. */
  pty?: boolean;
}

type MaybeTty = { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown; columns?: number; rows?: number };

export function wantsPty(io: TerminalIo): boolean {
  return io.pty ?? (io.stdin as MaybeTty).isTTY === true;
}

export function ptyOptions(io: TerminalIo): PseudoTtyOptions {
  const out = io.stdout as MaybeTty;
  return {
    term: io.term ?? process.env['TERM'] ?? 'xterm',
    cols: io.cols ?? out.columns ?? 80,
    rows: io.rows ?? out.rows ?? 24,
  };
}

/** Like a shell reports a command killed by a signal: 128 + its number. */
export function exitCode(code: number | null | undefined, signal?: string | null): number {
  if (typeof code === 'number') return code;
  if (signal) {
    const name = (signal.startsWith('SIG') ? signal : `SIG${signal}`) as keyof typeof constants.signals;
    return 128 + (constants.signals[name] ?? 127);
  }
  return 255;
}

/**
 * Connects the user's terminal to a channel until the remote side closes it. The caller's streams
 * stay open: they are usually the process's own.
 */
export function attachTerminal(ch: ClientChannel, io: TerminalIo, pty: boolean): Promise<number> {
  const stdin = io.stdin as NodeJS.ReadableStream & MaybeTty;
  const stdout = io.stdout as NodeJS.WritableStream & MaybeTty & NodeJS.EventEmitter;
  const raw = pty && stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  // In raw mode Ctrl-C and friends reach the remote pty instead of killing us.
  if (raw) stdin.setRawMode?.(true);
  const onResize = () => ch.setWindow(stdout.rows ?? 24, stdout.columns ?? 80, 0, 0);
  if (pty && stdout.isTTY) stdout.on('resize', onResize);
  stdin.pipe(ch);
  ch.pipe(io.stdout, { end: false });
  ch.stderr.pipe(io.stderr, { end: false });
  return new Promise((resolve) => {
    let code: number | undefined;
    ch.on('exit', (c: number | null, signal?: string) => (code = exitCode(c, signal)));
    const done = Promise.all([
      new Promise((r) => ch.once('close', r)),
      new Promise((r) => (ch.stderr.readableEnded ? r(undefined) : ch.stderr.once('end', r))),
    ]);
    void done.then(() => {
      stdin.unpipe(ch);
      if (raw) stdin.setRawMode?.(false);
      stdout.off('resize', onResize);
      // Paused again so a process.stdin that was only read for the session lets the process exit.
      stdin.pause();
      resolve(code ?? 255);
    });
  });
}
