import { readFileSync } from 'node:fs';
import { writeCacheFileSync } from '../sys/atomic.js';
import { answerTap } from '../answer-tap.js';

/**
 * TLS sessions of engine calls, kept between runs so that the next call to the same engine
 * resumes instead of doing a whole handshake.
 *
 * Why: `ls` asks every running engine its version over mutual TLS, and each whole handshake
 * costs both ends their certificate signatures and checks; a resumed one (TLS 1.3 tickets,
 * which dockerd issues and accepts by default) skips them. On ls of many machines that is
 * CPU the client and the engines no longer spend.
 *
 * Policy:
 * - One file per store (its cache directory, 0600): the sessions are as secret as the client
 *   key beside them in the store, which can make the same connections; they are not copied
 *   anywhere else.
 * - A session is offered only to the engine (host and port) it came from, and only with the
 *   client pair and CA it was made with (the caller's context id names them).
 * - An engine that no longer accepts one (restarted, its certificate regenerated) does the
 *   whole handshake, verifying its certificate as before, and its new session replaces the old.
 * - Kept for a day at most (dockerd's tickets live up to a week), written once per run at exit
 *   and only when a call got a new session; a file that cannot be read or written costs speed,
 *   never a call.
 * - A session kept less than an hour is offered again and again, and the engine's new tickets
 *   are not asked for unless it refused the session: asking makes Node serialise every ticket
 *   (ls of 250 running machines: 7 ms of CPU, and a file to write). dockerd (Go) takes a ticket
 *   any number of times until a week after the whole handshake it came from.
 */

const MAX_AGE_MS = 24 * 3600 * 1000;
const RENEW_AFTER_MS = 3600 * 1000;
const MAX_SESSIONS = 1000;

interface SessionFile {
  v: 1;
  sessions: Record<string, [atMs: number, base64: string]>;
}

export interface TlsSessions {
  /** The session to offer this engine with this client identity, if one is kept. */
  get(key: string): Buffer | undefined;
  /** Whether the kept session is recent enough to go on offering it without asking for a new one. */
  fresh(key: string): boolean;
  put(key: string, session: Buffer): void;
}

const open = new Map<string, TlsSessions>();

/** The sessions kept in `file`, read once per process; new ones are written when it exits. */
export function tlsSessions(file: string): TlsSessions {
  const known = open.get(file);
  if (known) return known;
  let kept: SessionFile['sessions'] = {};
  // Sessions make a call faster and change no answer: the answer cache does not watch them.
  answerTap()?.speedOnly(file);
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as SessionFile;
    if (parsed.v === 1 && parsed.sessions && typeof parsed.sessions === 'object') kept = parsed.sessions;
  } catch {
    // None yet, or unreadable: whole handshakes.
  }
  const now = Date.now();
  let dirty = false;
  // Decoded once per engine: ls offers one session to every machine behind the same engine.
  const decoded = new Map<string, Buffer>();
  const sessions: TlsSessions = {
    get(key) {
      const e = kept[key];
      if (!e || now - e[0] >= MAX_AGE_MS) return undefined;
      let session = decoded.get(key);
      if (!session) decoded.set(key, (session = Buffer.from(e[1], 'base64')));
      return session;
    },
    fresh(key) {
      const e = kept[key];
      return Boolean(e && now - e[0] < RENEW_AFTER_MS);
    },
    put(key, session) {
      kept[key] = [Date.now(), session.toString('base64')];
      decoded.set(key, session);
      if (!dirty) process.once('exit', save);
      dirty = true;
    },
  };
  const save = () => {
    const fresh = Object.entries(kept)
      .filter(([, e]) => Array.isArray(e) && now - e[0] < MAX_AGE_MS)
      .sort((a, b) => b[1][0] - a[1][0])
      .slice(0, MAX_SESSIONS);
    writeCacheFileSync(file, JSON.stringify({ v: 1, sessions: Object.fromEntries(fresh) } satisfies SessionFile));
  };
  open.set(file, sessions);
  return sessions;
}
