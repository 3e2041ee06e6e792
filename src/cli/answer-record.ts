// Recording a run for the answer cache (./answer-cache.ts, whose policy this follows). Loaded
// with the rest of the CLI's start (./start.ts) only when no answer was given.
const { readFileSync, statSync } = process.getBuiltinModule('node:fs');
const { dirname, resolve } = process.getBuiltinModule('node:path');
import type { AnswerTap } from '../answer-tap.js';
import { digestOf, idOf, type Answer } from './answer-cache.js';
import { removeWhere, writeWhole } from './cache-files.js';
import type { RequireWatch } from './code-cache.js';

const ANSWERABLE_BUILTINS = new Set(['node:fs', 'node:path', 'node:util', 'node:url', 'node:net', 'node:https', 'node:tls', 'node:crypto']);
/** fs functions that read by path, and those that work on a descriptor opened by one. */
const PATH_READS = new Set(['readFileSync', 'existsSync', 'statSync', 'lstatSync', 'readdirSync', 'accessSync', 'realpathSync', 'readlinkSync', 'openSync']);
const FD_READS = new Set(['fstatSync', 'readSync', 'closeSync']);
/** Within this of a run, a file's change may not show in its timestamps (git's racy rule). */
const RACY_MS = 2000;

/** A run being recorded: run() reports through its tap, the chunk loader through its watch. */
export interface Recording {
  tap: AnswerTap;
  watch: RequireWatch;
  finish(code: number): void;
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
  const engines: Answer['engines'] = [];
  const speedOnly = new Set<string>();
  let answerable = false;
  let spoiled: string | undefined;
  // Connections made and engine requests sent, each to be matched by a report.
  let connects = 0;
  let requests = 0;
  let engineReports = 0;
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
    engineCall: (call) => {
      engineReports++;
      if (call) engines.push(call);
    },
    speedOnly: (path) => void speedOnly.add(resolve(path)),
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
  // node:net for the probes only, node:https, node:tls and node:crypto for engine calls only:
  // each connection and each request must be one the run reported; any other function of
  // theirs (but net.isIP, which only reads its argument) ends the recording.
  const narrowed = <M extends object>(id: string, mod: M, uses: Record<string, (() => void) | null>) =>
    new Proxy(mod, {
      get(target, prop) {
        const v = Reflect.get(target, prop);
        if (spoiled !== undefined || typeof v !== 'function') return v;
        const use = typeof prop === 'string' ? uses[prop] : undefined;
        if (use === undefined) {
          spoil(`${id}.${String(prop)}`);
          return v;
        }
        if (use === null) return v;
        return (...args: any[]) => {
          use();
          return (v as (...a: any[]) => unknown).apply(target, args);
        };
      },
    });
  const NARROWED: Record<string, Record<string, (() => void) | null>> = {
    'node:net': { connect: () => void connects++, isIP: null },
    'node:https': { request: () => void requests++ },
    // Engine calls (their connections), their context (one parse of the client pair) and its
    // id (a digest of it).
    'node:tls': { connect: () => void requests++, createSecureContext: null },
    'node:crypto': { createHash: null },
  };

  const watch: RequireWatch = {
    builtin(id, mod) {
      if (!ANSWERABLE_BUILTINS.has(id)) spoil(`require(${id})`);
      if (spoiled !== undefined) return mod;
      if (id === 'node:fs') return fsFor(mod as typeof import('node:fs'));
      const uses = NARROWED[id];
      return uses ? narrowed(id, mod as object, uses) : mod;
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
      if (code !== 0 || !answerable || spoiled !== undefined || connects !== probes.length || requests !== engineReports) return;
      const inputs: Answer['inputs'] = [];
      for (const path of [resolve(process.argv[1] ?? ''), ...reads]) {
        if (speedOnly.has(path)) continue;
        const s = statSync(path, { throwIfNoEntry: false });
        if (s && (s.mtimeMs > started - RACY_MS || s.ctimeMs > started - RACY_MS)) return;
        inputs.push([path, idOf(s)]);
      }
      const written = out.map(([fd, bytes]): [1 | 2, string] => [fd, bytes.toString('base64')]);
      const answer: Answer = { key, env: [...envReads], inputs, probes, engines, ...(window ? { window } : {}), out: written };
      const added = !statSync(file, { throwIfNoEntry: false });
      writeWhole(file, JSON.stringify(answer));
      if (added) removeOrphans(dirname(file), file);
    },
  };
}

/**
 * Removes the answers of installations that are gone: a record is kept per argument list, the
 * script's path among them, so every copy of machine run from a new place added records that
 * nothing removed. A record's first input is its script. Looked for only when a record is
 * added (a new argument list or place), not when one is replaced.
 */
function removeOrphans(dir: string, own: string): void {
  removeWhere(dir, own, '.json', (file) => {
    const script = (JSON.parse(readFileSync(file, 'utf8')) as Answer).inputs[0]?.[0];
    return typeof script === 'string' && !statSync(script, { throwIfNoEntry: false });
  });
}
