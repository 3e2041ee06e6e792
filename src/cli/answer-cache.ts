// Built-ins from Node's table: this runs on main's first lines, before anything of ours loads.
const { fstatSync, readFileSync, statSync, writeSync } = process.getBuiltinModule('node:fs');
const { join, resolve } = process.getBuiltinModule('node:path');
import type { AnswerTap } from '../answer-tap.js';
import { digest, writeWhole, type RequireWatch } from './code-cache.js';

/**
 * The answer cache: `env`, `config`, `url`, `ip` and `active` give their last answer again,
 * without loading the core, while nothing it came from has changed.
 *
 * Why: scripts and shell prompts run these over and over with the same arguments on the same
 * store (`eval $(machine env dev)`, `machine active` in PS1). Each answer is a function of the
 * arguments, the environment, the files the command read and, for `active`, whether a TCP port
 * answers. Loading and running the core for it costs about 4 ms over a bare node (15% of
 * `env` here); checking that the inputs are unchanged costs a few stats.
 *
 * Policy:
 * - Recorded: a successful run of a command that declares itself answerable
 *   (Command.answerable, reported through ../answer-tap.ts), not under --debug, that read files
 *   through node:fs only, wrote only to stdout and stderr and only through node:fs, required no
 *   built-in beyond fs, path, util, url and net, connected through net only for the probes it
 *   reported, loaded nothing from node_modules, wrote nothing through process.stdout or
 *   stderr, never touched stdin and signalled no process (a pid check is state outside the
 *   files). Anything else (a cloud driver, a docker context, a failure) leaves no record.
 * - Keyed by everything else the answer could depend on: Node and its arguments (this script's
 *   path included), the working directory, the user, and each environment variable the run
 *   read (a run that lists or changes the environment is not recorded). Neither stdout nor
 *   stderr may be a terminal, where a person reads and the CLI writes differently; a character
 *   device other than /dev/null counts as one.
 * - The record holds digests of the key and of the variables' values, not the values: a token
 *   in the environment or the arguments does not end up in a file.
 * - Given again only while every file read has the identity it had (device, inode, size, mtime
 *   and ctime, or is still absent), the certificate checked is still within its validity, and
 *   every probe gives the same result; otherwise the command runs as usual (and records anew).
 *   This script is one of the files: a new build or install is a miss.
 * - Git's racy rule: a run is not recorded when a file it read changed within the 2 s before it
 *   (or during it), since a later change within the file system's timestamp granularity could
 *   leave every identity as it was.
 * - One file per argument list (named by its digest), so a new environment replaces the record
 *   instead of adding one: in $XDG_CACHE_HOME/machine/answers (or ~/.cache/machine/answers),
 *   private to the user.
 * - MACHINE_ANSWER_CACHE=0 turns it off; NODE_DISABLE_COMPILE_CACHE, which turns off the code
 *   cache, turns it off too (the recording watches requires through that cache's loader).
 */

/** What a recorded answer holds. */
interface Answer {
  /** The digest of keyOf(). */
  key: string;
  /** Each environment variable read, with the digest of its value then (null: unset). */
  env: Array<[name: string, digest: string | null]>;
  /** Each file read, with its identity then ('' when it was absent). */
  inputs: Array<[path: string, identity: string]>;
  probes: Array<[host: string, port: number, timeoutMs: number, open: boolean]>;
  /** The certificate window the answer holds in, in ms since the epoch. */
  window?: [number, number];
  /** What was written, in order: fd and base64 bytes. */
  out: Array<[fd: 1 | 2, base64: string]>;
}

const ANSWERABLE_BUILTINS = new Set(['node:fs', 'node:path', 'node:util', 'node:url', 'node:net']);
/** fs functions that read by path, and those that work on a descriptor opened by one. */
const PATH_READS = new Set(['readFileSync', 'existsSync', 'statSync', 'lstatSync', 'readdirSync', 'accessSync', 'realpathSync', 'readlinkSync', 'openSync']);
const FD_READS = new Set(['fstatSync', 'readSync', 'closeSync']);
/** Within this of a run, a file's change may not show in its timestamps (git's racy rule). */
const RACY_MS = 2000;

type Stats = import('node:fs').Stats;
const idOf = (s: Stats | undefined): string => (s ? `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}` : '');
/** The file's identity, or '' when there is none. */
const identity = (path: string): string => idOf(statSync(path, { throwIfNoEntry: false }));

/** Whether fd may be a terminal: any character device but /dev/null. */
function mayBeTerminal(fd: number): boolean {
  let s: Stats;
  try {
    s = fstatSync(fd);
  } catch {
    return false; // closed
  }
  if (!s.isCharacterDevice()) return false;
  try {
    return s.rdev !== statSync('/dev/null').rdev;
  } catch {
    return true; // no /dev/null to tell
  }
}

/** The key: what besides files, variables and probes the answer could depend on. */
const keyOf = (): string => digest(JSON.stringify([process.version, process.execPath, process.argv, process.cwd(), process.getuid?.() ?? -1]));

const digestOf = (value: string | undefined): string | null => (value === undefined ? null : digest(value));

/** Whether something accepts a TCP connection at host:port within timeoutMs: the probe src/drivers/tcp.ts made. */
function reachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = process.getBuiltinModule('node:net').connect({ host, port });
    const end = (open: boolean) => (socket.destroy(), done(open));
    socket.setTimeout(timeoutMs, () => end(false));
    socket.once('connect', () => end(true)).once('error', () => end(false));
  });
}

/** Writes all of bytes to fd; a reader that went away takes nothing more. */
function writeAll(fd: 1 | 2, bytes: Buffer): void {
  for (let at = 0; at < bytes.length; ) {
    try {
      at += writeSync(fd, bytes, at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') return;
      // A descriptor someone left non-blocking and full: the stream knows how to wait (out.ts).
      if (code === 'EAGAIN') return void (fd === 1 ? process.stdout : process.stderr).write(bytes.subarray(at));
      throw err;
    }
  }
}

/** A run being recorded: run() reports through its tap, the chunk loader through its watch. */
export interface Recording {
  tap: AnswerTap;
  watch: RequireWatch;
  finish(code: number): void;
}

export interface AnswerCache {
  /** Gives the recorded answer when it still holds: true when it was written. */
  replay(): Promise<boolean>;
  /** Watches this run. */
  recording(): Recording;
}

/** The answer cache for this run, or undefined where it does not apply. */
export function answerCache(baseDir: string | undefined, env: NodeJS.ProcessEnv = process.env): AnswerCache | undefined {
  if (!baseDir || env.MACHINE_ANSWER_CACHE === '0' || env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  if (mayBeTerminal(1) || mayBeTerminal(2)) return undefined;
  const file = join(baseDir, 'answers', `${digest(JSON.stringify(process.argv))}.json`);
  const key = keyOf();
  return {
    async replay() {
      let a: Answer;
      try {
        a = JSON.parse(readFileSync(file, 'latin1')) as Answer;
      } catch {
        return false;
      }
      if (a.key !== key) return false;
      // The probes first, so that their round trips overlap the checks below (the socket of
      // one no longer needed is left to the exit).
      const probed = Promise.all(a.probes.map(([host, port, timeoutMs, open]) => reachable(host, port, timeoutMs).then((r) => r === open)));
      for (const [name, d] of a.env) if (digestOf(env[name]) !== d) return false;
      const now = Date.now();
      if (a.window && !(a.window[0] <= now && now < a.window[1])) return false;
      for (const [path, id] of a.inputs) if (identity(path) !== id) return false;
      if ((await probed).includes(false)) return false;
      for (const [fd, data] of a.out) writeAll(fd, Buffer.from(data, 'base64'));
      return true;
    },
    recording() {
      return recordRun(file, key);
    },
  };
}

/**
 * Watches this run and, at its end, writes its answer to `file` if the run qualifies (see the
 * policy above). Until finish() the process's getBuiltinModule and standard streams report to
 * it; finish() puts them back.
 */
export function recordRun(file: string, key: string): Recording {
  const started = Date.now();
  const reads = new Set<string>();
  const out: Array<[1 | 2, Buffer]> = [];
  const probes: Answer['probes'] = [];
  let window: [number, number] | undefined;
  let answerable = false;
  let spoiled: string | undefined;
  let connects = 0;
  // What the recording put in place, undone at its end: at finish(), or as soon as the run
  // cannot be kept (ls of 500 machines would otherwise note 2,000 reads for nothing).
  const restore: Array<() => void> = [];
  const spoil = (why: string) => {
    if (spoiled !== undefined) return;
    spoiled = why;
    for (const undo of restore.splice(0)) undo();
  };

  const tap: AnswerTap = {
    answerable: () => void (answerable = true),
    validWithin: (from, until) => void (window = window ? [Math.max(window[0], from), Math.min(window[1], until)] : [from, until]),
    probed: (host, port, timeoutMs, open) => void probes.push([host, port, timeoutMs, open]),
    pass: () => spoil('not an answerable command'),
  };

  // node:fs as the chunks see it: reads noted, writes to stdout and stderr kept, anything else
  // ends the recording (the command still runs as usual).
  const fsFor = (fs: typeof import('node:fs')) => {
    const wrapped = new Map<PropertyKey, unknown>();
    const wrap = (name: string, real: (...args: any[]) => any) => {
      if (name === 'writeSync') {
        return (fd: number, data: string | NodeJS.ArrayBufferView, ...rest: any[]) => {
          let n: number;
          try {
            n = real.call(fs, fd, data, ...rest);
          } catch (err) {
            // A reader gone (EPIPE) got part of the answer: not one to give again.
            spoil(`fs.writeSync: ${(err as Error).message}`);
            throw err;
          }
          if (fd !== 1 && fd !== 2) spoil(`fs.writeSync(${fd})`);
          else if (typeof data !== 'string' && rest.length === 0 && Buffer.isBuffer(data)) out.push([fd, Buffer.from(data.subarray(0, n))]);
          else spoil('fs.writeSync with an offset');
          return n;
        };
      }
      if (PATH_READS.has(name)) {
        return (path: unknown, ...rest: any[]) => {
          if (typeof path !== 'string') spoil(`fs.${name} of a descriptor or buffer`);
          else if (name === 'openSync' && rest[0] !== undefined && rest[0] !== 'r') spoil(`fs.openSync(${String(rest[0])})`);
          // A terminal test (out.ts); the key covers it.
          else if (!(name === 'readlinkSync' && path.startsWith('/proc/self/fd/'))) reads.add(resolve(path));
          return real.call(fs, path, ...rest);
        };
      }
      if (FD_READS.has(name)) return real;
      return (...args: any[]) => {
        spoil(`fs.${name}`);
        return real.apply(fs, args);
      };
    };
    return new Proxy(fs, {
      get(target, prop) {
        const v = Reflect.get(target, prop);
        if (typeof prop !== 'string' || spoiled !== undefined) return v;
        if (prop === 'promises') spoil('fs.promises');
        if (typeof v !== 'function') return v;
        if (!wrapped.has(prop)) wrapped.set(prop, wrap(prop, v as (...args: any[]) => any));
        return wrapped.get(prop);
      },
    });
  };
  // node:net for the probes only: each connection must be one the probe reported.
  const netFor = (net: typeof import('node:net')) =>
    new Proxy(net, {
      get(target, prop) {
        const v = Reflect.get(target, prop);
        if (spoiled !== undefined) return v;
        if (prop === 'connect') {
          return (...args: any[]) => {
            connects++;
            return (v as (...a: any[]) => unknown).apply(target, args);
          };
        }
        if (typeof v === 'function') spoil(`net.${String(prop)}`);
        return v;
      },
    });

  const watch: RequireWatch = {
    builtin(id, mod) {
      if (!ANSWERABLE_BUILTINS.has(id)) spoil(`require(${id})`);
      if (spoiled !== undefined) return mod;
      if (id === 'node:fs') return fsFor(mod as typeof import('node:fs'));
      if (id === 'node:net') return netFor(mod as typeof import('node:net'));
      return mod;
    },
    foreign: (id) => spoil(`require(${id})`),
  };
  // The variables the run reads are part of its key; one that lists or changes them is out.
  const realEnv = process.env;
  const envReads = new Map<string, string | null>();
  const noteVar = (k: string | symbol) => {
    if (typeof k === 'string' && !envReads.has(k)) envReads.set(k, digestOf(realEnv[k]));
  };
  process.env = new Proxy(realEnv, {
    get: (t, k) => (noteVar(k), Reflect.get(t, k)),
    has: (t, k) => (noteVar(k), Reflect.has(t, k)),
    getOwnPropertyDescriptor: (t, k) => (noteVar(k), Reflect.getOwnPropertyDescriptor(t, k)),
    ownKeys: (t) => (spoil('process.env listed'), Reflect.ownKeys(t)),
    set: (t, k, v) => (spoil('process.env changed'), Reflect.set(t, k, v)),
    deleteProperty: (t, k) => (spoil('process.env changed'), Reflect.deleteProperty(t, k)),
    defineProperty: (t, k, d) => (spoil('process.env changed'), Reflect.defineProperty(t, k, d)),
  });
  // The chunks reach other built-ins without require too, and the streams build on first touch.
  const getBuiltin = process.getBuiltinModule;
  process.getBuiltinModule = ((id: string) => watch.builtin(id.startsWith('node:') ? id : `node:${id}`, getBuiltin(id))) as typeof getBuiltin;
  restore.push(() => void (process.getBuiltinModule = getBuiltin), () => void (process.env = realEnv));
  // Whether a process lives (a VM's pid) is state outside the files.
  const kill = process.kill;
  process.kill = ((...args: Parameters<typeof kill>) => (spoil('process.kill'), kill.apply(process, args))) as typeof kill;
  restore.push(() => void (process.kill = kill));
  // Node itself touches process.stderr (a socket's destroy compares itself with it), so a
  // stream counts once it is written to; stdin once it is touched at all.
  for (const stream of ['stdin', 'stdout', 'stderr'] as const) {
    const d = Object.getOwnPropertyDescriptor(process, stream);
    if (!d?.get || !d.configurable) continue;
    let seen = false;
    restore.push(() => Object.defineProperty(process, stream, d));
    Object.defineProperty(process, stream, {
      ...d,
      get() {
        const s = d.get!.call(process) as NodeJS.WriteStream;
        if (stream === 'stdin') spoil('process.stdin');
        else if (!seen) {
          seen = true;
          const write = s.write;
          s.write = function (this: NodeJS.WriteStream, ...args: Parameters<typeof write>) {
            spoil(`process.${stream}.write`);
            return write.apply(this, args);
          } as typeof write;
        }
        return s;
      },
    });
  }

  return {
    tap,
    watch,
    finish(code: number) {
      for (const undo of restore.splice(0)) undo();
      if (code !== 0 || !answerable || spoiled !== undefined || connects !== probes.length) return;
      const inputs: Answer['inputs'] = [[resolve(process.argv[1] ?? ''), ''], ...[...reads].map((p): [string, string] => [p, ''])];
      for (const input of inputs) {
        const s = statSync(input[0], { throwIfNoEntry: false });
        if (s && (s.mtimeMs > started - RACY_MS || s.ctimeMs > started - RACY_MS)) return;
        input[1] = idOf(s);
      }
      const merged: Answer['out'] = [];
      for (const [fd, bytes] of out) merged.push([fd, bytes.toString('base64')]);
      const answer: Answer = { key, env: [...envReads], inputs, probes, ...(window ? { window } : {}), out: merged };
      writeWhole(file, JSON.stringify(answer));
    },
  };
}
