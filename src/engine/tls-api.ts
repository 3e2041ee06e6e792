import type { IncomingHttpHeaders } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
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
  let r: Awaited<ReturnType<typeof get>>;
  try {
    r = await get(url, '/_ping', tls, timeoutMs, debug, signal);
  } catch (err) {
    // The answer cache asks again only what answered; a call dropped was not used.
    if (signal?.aborted) answerTap()?.engineCall(undefined);
    else answerTap()?.pass();
    throw err;
  }
  const m = r.status === 200 ? /^Docker\/(\S+)/.exec(String(r.headers['server'] ?? '')) : null;
  if (!m) answerTap()?.pass();
  if (r.status !== 200) throw new Error(`engine answered ${r.status}: ${r.body.trim()}`);
  if (!m) return (await engineVersion(url, tls, timeoutMs, debug, signal)).Version;
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
  const { u, host, port } = target(url);
  // Read at once: three small files through the thread pool took ls of one machine 2 ms of
  // event-loop turns, and for many machines the reads cost less CPU than the callbacks did.
  const [ca, cert, key] = [readFileSync(tls.caCertPath), readFileSync(tls.clientCertPath), readFileSync(tls.clientKeyPath)];
  const { ctx, id } = secureContextFor(ca, cert, key);
  // A session from this engine's last call with this client pair, resumed if it still takes it.
  const sessions = tls.sessionFile ? tlsSessions(tls.sessionFile) : undefined;
  const sessionKey = `${id} ${u.host}`;
  // https hands these to tls.connect, which takes a ready context and a session; its types omit them.
  const tlsOptions: RequestOptions = { secureContext: ctx, session: sessions?.get(sessionKey) } as RequestOptions;
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
        signal: signal ? AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]) : AbortSignal.timeout(timeoutMs),
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
    if (sessions) req.once('socket', (s) => s.on('session', (session: Buffer) => sessions.put(sessionKey, session)));
    req.on('error', (err) => {
      const e = signal?.aborted
        ? new Error('dropped: no longer needed')
        : err.name === 'AbortError' || err.name === 'TimeoutError'
          ? new Error(`no answer from ${u.host} within ${timeoutMs} ms`)
          : err;
      debug(`engine-api: GET ${url}${path} -> ${e.message}`);
      reject(e);
    });
    req.end();
  });
}
