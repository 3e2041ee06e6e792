import type { IncomingHttpHeaders } from 'node:http';
import type { RequestOptions } from 'node:https';
import { connect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DEFAULT_ENGINE_PORT } from './port.js';
import { tlsSessions } from './tls-sessions.js';
import { answerTap } from '../answer-tap.js';

export interface TlsMaterial {
  caCertPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  /** Where sessions are kept for the next call to resume (./tls-sessions.ts); none: whole handshakes. */
  sessionFile?: string;
}

export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  Os: string;
  Arch: string;
}

// Every machine of a store carries copies of the same CA and client pair: one TLS context
// (one parse of the key and certificates) serves them all, which is most of what `ls` of many
// machines spent before its handshakes. Found by comparing the bytes, not by a key made of
// them: a 4 KB string per machine was a megabyte of garbage for ls of 500 machines.
// Each has an id, a digest of the three, that names it where sessions are kept.
const contexts: Array<{ ca: Buffer; cert: Buffer; key: Buffer; ctx: SecureContext; id: string }> = [];

function secureContextFor(ca: Buffer, cert: Buffer, key: Buffer): { ctx: SecureContext; id: string } {
  const known = contexts.find((c) => c.key.equals(key) && c.cert.equals(cert) && c.ca.equals(ca));
  if (known) return known;
  const made = { ca, cert, key, ctx: createSecureContext({ ca, cert, key }), id: createHash('sha256').update(ca).update(cert).update(key).digest('base64url') };
  contexts.push(made);
  return made;
}

/**
 * GET /version on a TLS engine with the client certificate: the same check the docker CLI's
 * first call makes, without needing the CLI. The server name is not checked against the
 * certificate's SANs here; `env` checks that separately so it can say what to do.
 */
export async function engineVersion(
  url: string,
  tls: TlsMaterial,
  timeoutMs: number,
  debug: (line: string) => void = () => undefined,
  signal?: AbortSignal,
): Promise<EngineVersion> {
  const r = await get(url, '/version', tls, timeoutMs, debug, signal);
  if (r.status !== 200) throw new Error(`engine answered ${r.status}: ${r.body.trim()}`);
  return JSON.parse(r.body) as EngineVersion;
}

/**
 * The engine's version from GET /_ping, which answers from memory with a `Server:
 * Docker/VERSION (OS)` header. /version runs runc and docker-init to report theirs: tens of
 * milliseconds of the engine's CPU per call, which made `ls` of many machines on one host
 * wait seconds. An engine whose ping names no version is asked /version. `signal` drops the
 * call (ls asks before it knows the machine runs).
 */
export async function engineVersionByPing(
  url: string,
  tls: TlsMaterial,
  timeoutMs: number,
  debug: (line: string) => void = () => undefined,
  signal?: AbortSignal,
): Promise<string> {
  let r: Awaited<ReturnType<typeof ping>>;
  try {
    r = await ping(url, tls, timeoutMs, debug, signal);
  } catch (err) {
    // The answer cache asks again only what answered; a call dropped was not used.
    if (signal?.aborted) answerTap()?.engineCall(undefined);
    else answerTap()?.pass();
    throw err;
  }
  const m = r.status === 200 ? /^Docker\/(\S+)/.exec(r.server) : null;
  if (!m) {
    // A failure's message, or a second call: nothing the cache asks again.
    answerTap()?.pass();
    if (r.status !== 200) throw new Error(`engine answered ${r.status}: ${r.body.trim()}`);
    return (await engineVersion(url, tls, timeoutMs, debug, signal)).Version;
  }
  const { host, port } = target(url);
  // src/cli/answer-cache.ts makes this call again (node:tls alone) before it answers from the cache.
  answerTap()?.engineCall([host, port, tls.caCertPath, tls.clientCertPath, tls.clientKeyPath, m[1]!]);
  return m[1]!;
}

/** Where a tcp:// engine URL points. */
function target(url: string): { u: URL; host: string; port: number } {
  const u = new URL(url.replace(/^tcp:/, 'https:'));
  return { u, host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || DEFAULT_ENGINE_PORT) };
}

/** The TLS options of a call to url with the client pair: a shared context, and a session to resume if one is kept. */
function callSetUp(url: string, tls: TlsMaterial) {
  const { u, host, port } = target(url);
  // Read at once: three small files through the thread pool took ls of one machine 2 ms of
  // event-loop turns, and for many machines the reads cost less CPU than the callbacks did.
  const [ca, cert, key] = [readFileSync(tls.caCertPath), readFileSync(tls.clientCertPath), readFileSync(tls.clientKeyPath)];
  const { ctx, id } = secureContextFor(ca, cert, key);
  // A session from this engine's last call with this client pair, resumed if it still takes it.
  const sessions = tls.sessionFile ? tlsSessions(tls.sessionFile) : undefined;
  const sessionKey = `${id} ${u.host}`;
  const session = sessions?.get(sessionKey);
  /** Keeps the engine's next session when the kept one is missing, ageing or refused (./tls-sessions.ts). */
  const keepSessions = (socket: TLSSocket) => {
    if (!sessions) return;
    const keep = (next: Buffer) => sessions.put(sessionKey, next);
    if (!session || !sessions.fresh(sessionKey)) socket.on('session', keep);
    // TLS 1.3 tickets come after the handshake: there is time to ask for one when it was refused.
    else socket.once('secureConnect', () => socket.isSessionReused() || socket.on('session', keep));
  };
  return { u, host, port, ctx, session, keepSessions };
}

/** One deadline for the whole call, dropped with signal too. */
const deadlineOf = (timeoutMs: number, signal?: AbortSignal) => (signal ? AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]) : AbortSignal.timeout(timeoutMs));

/** What a call's failure says: dropped, timed out, or the socket's own error. */
function callError(err: Error, host: string, timeoutMs: number, signal?: AbortSignal): Error {
  if (signal?.aborted) return new Error('dropped: no longer needed');
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return new Error(`no answer from ${host} within ${timeoutMs} ms`);
  return err;
}

/**
 * GET /_ping, written and read by hand on a node:tls socket: the status and the Server header
 * are all ls needs (and the body of a failure, for its message). node:https around the same
 * call cost ls of 500 machines 80 ms of CPU more here (its HTTP client and agent per call),
 * and its load 3 ms of ls of one. src/cli/answer-cache.ts makes the same call the same way
 * (the main bundle and this one share no module).
 */
async function ping(
  url: string,
  tls: TlsMaterial,
  timeoutMs: number,
  debug: (line: string) => void,
  signal?: AbortSignal,
): Promise<{ status: number; server: string; body: string }> {
  const started = Date.now();
  const { u, host, port, ctx, session, keepSessions } = callSetUp(url, tls);
  const deadline = deadlineOf(timeoutMs, signal);
  return new Promise((resolve, reject) => {
    // No server name is checked against the certificate here (see engineVersion); SNI as
    // Node's HTTPS client sends it: the host's name, never an address.
    const socket = connect({ host, port, secureContext: ctx, session, servername: isIP(host) ? undefined : host, checkServerIdentity: () => undefined });
    let text = '';
    let head: { status: number; server: string; at: number } | undefined;
    let settled = false;
    const settle = (err: Error | undefined, status = 0) => {
      if (settled) return;
      settled = true;
      deadline.removeEventListener('abort', onAbort);
      const resumed = socket.isSessionReused() ? ', resumed' : '';
      socket.destroy();
      if (err) {
        const e = callError(err, u.host, timeoutMs, signal);
        debug(`engine-api: GET ${url}/_ping -> ${e.message}`);
        return reject(e);
      }
      debug(`engine-api: GET ${url}/_ping -> ${status} (${Date.now() - started} ms${resumed})`);
      resolve({ status, server: head!.server, body: text.slice(head!.at) });
    };
    const onAbort = () => settle(deadline.reason instanceof Error ? deadline.reason : new Error(String(deadline.reason)));
    deadline.addEventListener('abort', onAbort, { once: true });
    keepSessions(socket);
    socket.once('secureConnect', () => socket.write(`GET /_ping HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (!head) {
        const end = text.indexOf('\r\n\r\n');
        if (end < 0) return void (text.length > 65536 && settle(new Error('the engine answered with a head over 64 KB')));
        const [statusLine = '', ...fields] = text.slice(0, end).split('\r\n');
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
        if (!status) return settle(new Error(`the engine answered something else than HTTP: ${statusLine.slice(0, 80)}`));
        const server = fields.find((f) => /^server:/i.test(f))?.slice(7).trim() ?? '';
        head = { status: Number(status), server, at: end + 4 };
      }
      // A version needs the head alone; a failure's message is its body, to the end.
      if (head.status === 200) settle(undefined, 200);
    });
    // Connection: close: the engine ends the stream after its answer.
    socket.once('end', () => (head ? settle(undefined, head.status) : settle(new Error('socket hang up'))));
    socket.once('error', (err) => settle(err));
  });
}

/** One GET with the client pair, under one deadline for the whole call. */
async function get(
  url: string,
  path: string,
  tls: TlsMaterial,
  timeoutMs: number,
  debug: (line: string) => void,
  signal?: AbortSignal,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const started = Date.now();
  const { u, host, port, ctx, session, keepSessions } = callSetUp(url, tls);
  // https hands these to tls.connect, which takes a ready context and a session; its types omit them.
  const tlsOptions: RequestOptions = { secureContext: ctx, session } as RequestOptions;
  // Loaded here: ls's ping does without node:https and its HTTP client (3 ms to load).
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...tlsOptions,
        host,
        port,
        path,
        method: 'GET',
        servername: undefined,
        checkServerIdentity: () => undefined,
        // One deadline for the whole call: Node's `timeout` is an idle timer, armed again
        // after connecting, so a host that accepts and stays silent took twice as long.
        signal: deadlineOf(timeoutMs, signal),
        agent: false,
      },
      (res) => {
        const resumed = (res.socket as TLSSocket).isSessionReused() ? ', resumed' : '';
        debug(`engine-api: GET ${url}${path} -> ${res.statusCode} (${Date.now() - started} ms${resumed})`);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.once('socket', (s) => keepSessions(s as TLSSocket));
    req.on('error', (err) => {
      const e = callError(err, u.host, timeoutMs, signal);
      debug(`engine-api: GET ${url}${path} -> ${e.message}`);
      reject(e);
    });
    req.end();
  });
}
