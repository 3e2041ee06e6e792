// How long work shows itself (--progress, MACHINE_PROGRESS). Policy:
// - plain (off a terminal, and the default there): one timestamped line per step on stdout,
//   nothing that redraws, so logs and pipes read as before.
// - tty (auto on a terminal): a live line per machine with a spinner, the step and its
//   elapsed time, and bytes and rate for downloads; one machine's finished steps stay
//   above it, several machines keep one line each (swarm create).
// - json: one event per line on stderr (progress-events.ts), for other tools; plain-text
//   errors become error events so that stderr stays parseable.
import type { Logger } from '../log.js';
import { stdoutIsTty, writeErr, writeOut } from './out.js';
import { UsageError } from '../errors.js';
import type { ProgressEvent } from './progress-events.js';

export const PROGRESS_MODES = ['auto', 'plain', 'tty', 'json'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export interface CommandLogger extends Logger {
  readonly mode: Exclude<ProgressMode, 'auto'>;
  /** The command ended: open steps close, and json says how it ended. */
  finish(ok: boolean, error?: string): void | Promise<void>;
  /** A line for stderr: text, or in json mode an error event. */
  errorLine(message: string): void;
  /** A line of the command's own output (stdout), kept clear of a live display. */
  outLine(text: string): void;
}

export function resolveMode(flag: string | undefined): Exclude<ProgressMode, 'auto'> {
  const value = flag || process.env.MACHINE_PROGRESS || 'auto';
  if (!(PROGRESS_MODES as readonly string[]).includes(value)) throw new UsageError(`--progress takes auto, plain, tty or json, not "${value}"`);
  if (value !== 'auto') return value as Exclude<ProgressMode, 'auto'>;
  return stdoutIsTty() && process.env.TERM !== 'dumb' && !process.env.CI ? 'tty' : 'plain';
}

const since = (start: number) => (Date.now() - start) / 1000;
const stamp = (start: number) => `[${since(start).toFixed(1).padStart(5)}s]`;

function plain(debug: boolean, quiet: boolean): CommandLogger {
  const start = Date.now();
  return {
    mode: 'plain',
    info(message, lane) {
      if (!quiet) writeOut(`${stamp(start)} ${lane ? `${lane}: ` : ''}${message}\n`);
    },
    debug(message) {
      // Timed like the steps, so a slow command's --debug output shows where the time went.
      if (debug) writeErr(`(debug) ${stamp(start)} ${message}\n`);
    },
    finish: () => undefined,
    errorLine: (m) => writeErr(`${m}\n`),
    outLine: (t) => writeOut(`${t}\n`),
  };
}

function json(debug: boolean): CommandLogger {
  const start = Date.now();
  const current = new Map<string, string>();
  const emit = (e: Omit<ProgressEvent, 'time' | 'elapsed'>) =>
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), elapsed: Math.round(since(start) * 1000) / 1000, ...e })}\n`);
  const close = (lane: string) => {
    const step = current.get(lane);
    if (step !== undefined) emit({ machine: lane || null, step, status: 'done' });
    current.delete(lane);
  };
  return {
    mode: 'json',
    info(message, lane = '') {
      close(lane);
      current.set(lane, message);
      emit({ machine: lane || null, step: message, status: 'started' });
    },
    progress(done, lane = '') {
      const step = current.get(lane) ?? '';
      emit({
        machine: lane || null,
        step,
        status: 'progress',
        ...(done.bytes !== undefined ? { bytes: done.bytes } : {}),
        ...(done.bytes !== undefined && done.total ? { total: done.total, percent: Math.floor((done.bytes / done.total) * 100) } : {}),
        ...(done.detail ? { message: done.detail } : {}),
      });
    },
    debug(message) {
      if (debug) emit({ machine: null, step: '', status: 'log', message });
    },
    finish(ok, error) {
      if (ok) for (const lane of [...current.keys()]) close(lane);
      else for (const [lane, step] of current) emit({ machine: lane || null, step, status: 'error', error: error ?? 'failed' });
      current.clear();
      emit({ machine: null, step: 'command', status: ok ? 'done' : 'error', ...(ok ? {} : { error: error ?? 'failed' }) });
    },
    errorLine: (m) => emit({ machine: null, step: '', status: 'error', error: m }),
    outLine: (t) => void process.stdout.write(`${t}\n`),
  };
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const mb = (n: number) => `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;

function tty(debug: boolean): CommandLogger {
  const start = Date.now();
  interface Lane {
    step: string;
    since: number;
    detail?: string;
    bytes?: { bytes: number; total?: number; at: number; first: number; firstAt: number };
  }
  const lanes = new Map<string, Lane>();
  let frame = 0;
  let update: ((text: string) => void) & { done(): void; clear(): void };
  let timer: NodeJS.Timeout | undefined;
  // Loaded at the first step: quick commands (ls on a terminal) never pay for it.
  let ready: Promise<void> | undefined;
  const load = () =>
    (ready ??= import('log-update').then(({ createLogUpdate }) => {
      // A terminal that reports no size (0x0, as a bare pty does) still gets a display.
      const out = {
        isTTY: true,
        write: (text: string) => process.stdout.write(text),
        get rows() {
          return process.stdout.rows || 24;
        },
        get columns() {
          return process.stdout.columns || 100;
        },
      };
      update = createLogUpdate(out as unknown as NodeJS.WriteStream, { showCursor: true }) as typeof update;
    }));
  const line = (name: string, l: Lane, mark: string) => {
    let extra = `${since(l.since).toFixed(1)}s`;
    if (l.bytes) {
      const { bytes, total, at, first, firstAt } = l.bytes;
      const rate = at > firstAt ? (bytes - first) / ((at - firstAt) / 1000) : 0;
      extra = `${total ? `${Math.floor((bytes / total) * 100)}% ${mb(bytes)}/${mb(total)}` : mb(bytes)}${rate ? ` ${mb(rate)}/s` : ''}, ${extra}`;
    }
    return `${mark} ${name ? `${name}: ` : ''}${l.step} (${extra})${l.detail && mark !== '✔' ? ` ${l.detail}` : ''}`;
  };
  const render = () => {
    if (!update) return;
    frame = (frame + 1) % SPINNER.length;
    update([...lanes].map(([name, l]) => line(name, l, SPINNER[frame]!)).join('\n'));
  };
  const persist = (text: string) => {
    // No live display yet (env, ls, ip at a terminal): straight to the descriptor, as in plain
    // mode. process.stdout on a terminal builds a tty stream, loading node:tty, net and the
    // streams: about 3 ms that a quick command would spend on its one line.
    if (!update) return writeOut(`${text}\n`);
    update.clear();
    process.stdout.write(`${text}\n`);
    render();
  };
  const ensureTimer = () => {
    if (timer) return;
    timer = setInterval(render, 100);
    timer.unref();
  };
  return {
    mode: 'tty',
    info(message, lane = '') {
      void load().then(() => {
        const prev = lanes.get(lane);
        lanes.set(lane, { step: message, since: Date.now() });
        ensureTimer();
        // One machine: its finished steps stay on screen. Several: one line each.
        if (prev && (lanes.size === 1 || !lane)) persist(line(lane, prev, '✔'));
        else render();
      });
    },
    progress(done, lane = '') {
      const l = lanes.get(lane);
      if (!l) return;
      if (done.detail) l.detail = done.detail;
      if (done.bytes === undefined) return;
      const now = Date.now();
      l.bytes = l.bytes
        ? { ...l.bytes, bytes: done.bytes, ...(done.total ? { total: done.total } : {}), at: now }
        : { bytes: done.bytes, ...(done.total ? { total: done.total } : {}), at: now, first: done.bytes, firstAt: now };
    },
    debug(message) {
      if (debug) persist(`(debug) ${message}`);
    },
    async finish(ok) {
      if (!ready) return;
      await ready;
      if (timer) clearInterval(timer);
      if (!lanes.size) return;
      update.clear();
      for (const [name, l] of lanes) process.stdout.write(`${line(name, l, ok ? '✔' : '✖')}\n`);
      lanes.clear();
      if (ok) process.stdout.write(`Done in ${since(start).toFixed(1)}s\n`);
    },
    errorLine(m) {
      if (!update) return writeErr(`${m}\n`);
      update.clear();
      process.stderr.write(`${m}\n`);
      render();
    },
    outLine: (t) => persist(t),
  };
}

export function makeCommandLogger(mode: Exclude<ProgressMode, 'auto'>, debug: boolean, quiet = false): CommandLogger {
  if (mode === 'json') return json(debug);
  if (mode === 'tty' && !quiet) return tty(debug);
  return plain(debug, quiet);
}
