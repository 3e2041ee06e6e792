// Built-ins from Node's table: this runs on main's first lines, before anything of ours loads.
const { fstatSync, readFileSync, statSync, writeSync } = process.getBuiltinModule('node:fs');
const { join } = process.getBuiltinModule('node:path');
import { digest } from './cache-files.js';
import type { EngineCall } from '../answer-tap.js';

/**
 * The answer cache: `env`, `config`, `url`, `ip`, `active` and `ls` give their last answer
 * again, without loading the core, while nothing it came from has changed.
 *
 * Why: scripts and shell prompts run these over and over with the same arguments on the same
 * store (`eval $(machine env dev)`, `machine active` in PS1, `watch machine ls`). Each answer
 * is a function of the arguments, the environment, the files the command read and, for
 * `active` and `ls`, whether a TCP port answers and which version an engine names. Loading and
 * running the core for it costs about 4 ms over a bare node (15% of `env` here), and ls of one
 * machine 15 ms more than its one engine call; checking that the inputs are unchanged costs a
 * few stats, and the live checks are made again as they were.
 *
 * Policy:
 * - Recorded: a successful run of a command that declares itself answerable
 *   (Command.answerable, reported through ../answer-tap.ts), not under --debug, that read files
 *   through node:fs only, wrote only to stdout and stderr and only through node:fs, required no
 *   built-in beyond fs, path, util, url, net, https, tls and crypto, connected through net only
 *   for the probes it reported and through tls or https only for the engine calls it reported
 *   (a call dropped unanswered, whose answer it did not use, counts as reported), used of tls
 *   and crypto besides only a context for those calls and a hash, loaded nothing from
 *   node_modules, wrote nothing through process.stdout or stderr, never touched stdin and
 *   signalled no process (a pid check is state outside the files). Anything else (a cloud
 *   driver, a docker context, a failure) leaves no record.
 * - Keyed by everything else the answer could depend on: Node and its arguments (this script's
 *   path included), the working directory, the user, and each environment variable the run
 *   read (a run that lists or changes the environment is not recorded). Neither stdout nor
 *   stderr may be a terminal, where a person reads and the CLI writes differently; a character
 *   device other than /dev/null counts as one.
 * - The record holds digests of the key and of the variables' values, not the values: a token
 *   in the environment or the arguments does not end up in a file.
 * - Given again only while every file read has the identity it had (device, inode, size, mtime
 *   and ctime, or is still absent), the certificate checked is still within its validity,
 *   every probe gives the same result and every engine names the same version to the same
 *   client pair; otherwise the command runs as usual (and records anew). A check that passed
 *   when recorded gets 2 s now: slower is a miss. This script is one of the files: a new build
 *   or install is a miss. A file read only to go faster (the TLS sessions ls resumes) is not
 *   an input.
 * - Git's racy rule: a run is not recorded when a file it read changed within the 2 s before it
 *   (or during it), since a later change within the file system's timestamp granularity could
 *   leave every identity as it was.
 * - One file per argument list (named by its digest), so a new environment replaces the record
 *   instead of adding one: in $XDG_CACHE_HOME/machine/answers (or ~/.cache/machine/answers),
 *   private to the user. Adding one removes those whose script (the copy of machine that
 *   made them: the first input) is gone (./answer-record.ts).
 * - MACHINE_ANSWER_CACHE=0 turns it off; NODE_DISABLE_COMPILE_CACHE, which turns off the code
 *   cache, turns it off too (the recording watches requires through that cache's loader).
 */

/** What a recorded answer holds. */
export interface Answer {
  /** The digest of keyOf(). */
  key: string;
  /** Each environment variable read, with the digest of its value then (null: unset). */
  env: Array<[name: string, digest: string | null]>;
  /** Each file read, with its identity then ('' when it was absent). */
  inputs: Array<[path: string, identity: string]>;
  probes: Array<[host: string, port: number, timeoutMs: number, open: boolean]>;
  /** Engines asked over TLS, with the version each named (ls). */
  engines: EngineCall[];
  /** The certificate window the answer holds in, in ms since the epoch. */
  window?: [number, number];
  /** What was written, in order: fd and base64 bytes. */
  out: Array<[fd: 1 | 2, base64: string]>;
}

type Stats = import('node:fs').Stats;
export const idOf = (s: Stats | undefined): string => (s ? `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}` : '');
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

export const digestOf = (value: string | undefined): string | null => (value === undefined ? null : digest(value));

/** Whether something accepts a TCP connection at host:port within timeoutMs: the probe src/drivers/tcp.ts made. */
function reachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = process.getBuiltinModule('node:net').connect({ host, port });
    const end = (open: boolean) => (socket.destroy(), done(open));
    socket.setTimeout(timeoutMs, () => end(false));
    socket.once('connect', () => end(true)).once('error', () => end(false));
  });
}

/**
 * How long a check that passed when recorded may take now: one that is slow this time is a
 * miss, and the command runs (with its own timeout) at the cost of this wait, not of a second
 * whole timeout after the first.
 */
const CHECK_WAIT_MS = 2000;

/**
 * The version the engine at host:port names in its answer to GET /_ping, over TLS with the
 * client pair, checking its certificate against the CA: the call src/engine/tls-api.ts makes
 * for ls, made here with node:tls alone (node:https and its HTTP client cost more to load than
 * this one request needs). undefined when it does not answer so within timeoutMs.
 */
function engineVersion([host, port, caPath, certPath, keyPath]: EngineCall, timeoutMs: number): Promise<string | undefined> {
  return new Promise((done) => {
    let files: Buffer[];
    try {
      files = [caPath, certPath, keyPath].map((f) => readFileSync(f));
    } catch {
      return done(undefined);
    }
    const { connect } = process.getBuiltinModule('node:tls');
    const { isIP } = process.getBuiltinModule('node:net');
    const [ca, cert, key] = files;
    // No server name is checked (the engine's certificate names the machine's address, which
    // ls does not check either); SNI as Node's HTTPS client sends it.
    const socket = connect({ host, port, ca, cert, key, servername: isIP(host) ? undefined : host, checkServerIdentity: () => undefined });
    let head = '';
    const end = (version: string | undefined) => (socket.destroy(), done(version));
    socket.setTimeout(timeoutMs, () => end(undefined));
    socket.once('error', () => end(undefined));
    socket.once('secureConnect', () => socket.write(`GET /_ping HTTP/1.1\r\nHost: ${isIP(host) === 6 ? `[${host}]` : host}:${port}\r\nConnection: close\r\n\r\n`));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      head += chunk;
      const at = head.indexOf('\r\n\r\n');
      if (at < 0) return head.length > 65536 ? end(undefined) : undefined;
      const [status, ...fields] = head.slice(0, at).split('\r\n');
      const server = fields.find((f) => /^server:/i.test(f))?.slice(7).trim() ?? '';
      end(/^HTTP\/1\.[01] 200 /.test(`${status} `) ? /^Docker\/(\S+)/.exec(server)?.[1] : undefined);
    });
    socket.once('end', () => end(undefined));
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

export interface AnswerCache {
  /** Gives the recorded answer when it still holds: true when it was written. */
  replay(): Promise<boolean>;
  /** Where this run's answer is kept, and its key (for ./answer-record.ts). */
  file: string;
  key: string;
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
        a = JSON.parse(readFileSync(file, 'utf8')) as Answer;
      } catch {
        return false;
      }
      if (a.key !== key) return false;
      // The variables first: they cost nothing to compare, and a record kept under another
      // (ls in another store is the same command line) points at machines this run must not
      // connect to.
      for (const [name, d] of a.env) if (digestOf(env[name]) !== d) return false;
      const now = Date.now();
      if (a.window && !(a.window[0] <= now && now < a.window[1])) return false;
      // Then the live checks, so that their round trips overlap the files' checks below (the
      // socket of one no longer needed is left to the exit); the engines before the probes,
      // since a TLS call is the longest of them.
      const probed = Promise.all([
        ...(a.engines ?? []).map((call) => engineVersion(call, CHECK_WAIT_MS).then((v) => v === call[5])),
        ...a.probes.map(([host, port, timeoutMs, open]) => reachable(host, port, open ? Math.min(timeoutMs, CHECK_WAIT_MS) : timeoutMs).then((r) => r === open)),
      ]);
      for (const [path, id] of a.inputs) if (identity(path) !== id) return false;
      if ((await probed).includes(false)) return false;
      for (const [fd, data] of a.out) writeAll(fd, Buffer.from(data, 'base64'));
      return true;
    },
    file,
    key,
  };
}
