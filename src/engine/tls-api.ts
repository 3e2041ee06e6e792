import { request, type RequestOptions } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { DEFAULT_ENGINE_PORT } from './port.js';

export interface TlsMaterial {
  caCertPath: string;
  clientCertPath: string;
  clientKeyPath: string;
}

export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  Os: string;
  Arch: string;
}

// Every machine of a store carries copies of the same CA and client pair: one TLS context
// (one parse of the key and certificates) serves them all, which is most of what `ls` of many
// machines spent before its handshakes.
const contexts = new Map<string, SecureContext>();

function secureContextFor(ca: Buffer, cert: Buffer, key: Buffer): SecureContext {
  const id = `${ca.toString('latin1')}\0${cert.toString('latin1')}\0${key.toString('latin1')}`;
  let ctx = contexts.get(id);
  if (!ctx) {
    ctx = createSecureContext({ ca, cert, key });
    contexts.set(id, ctx);
  }
  return ctx;
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
): Promise<EngineVersion> {
  const started = Date.now();
  const u = new URL(url.replace(/^tcp:/, 'https:'));
  const [ca, cert, key] = await Promise.all([
    readFile(tls.caCertPath),
    readFile(tls.clientCertPath),
    readFile(tls.clientKeyPath),
  ]);
  // https hands these to tls.connect, which takes a ready context; its types omit it.
  const tlsOptions: RequestOptions = { secureContext: secureContextFor(ca, cert, key) } as RequestOptions;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...tlsOptions,
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: Number(u.port || DEFAULT_ENGINE_PORT),
        path: '/version',
        method: 'GET',
        servername: undefined,
        checkServerIdentity: () => undefined,
        // One deadline for the whole call: Node's `timeout` is an idle timer, armed again
        // after connecting, so a host that accepts and stays silent took twice as long.
        signal: AbortSignal.timeout(timeoutMs),
        agent: false,
      },
      (res) => {
        debug(`engine-api: GET ${url}/version -> ${res.statusCode} (${Date.now() - started} ms)`);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`engine answered ${res.statusCode}: ${body.trim()}`));
          try {
            resolve(JSON.parse(body) as EngineVersion);
          } catch (err) {
            reject(err as Error);
          }
        });
      },
    );
    req.on('error', (err) => {
      const e = err.name === 'AbortError' || err.name === 'TimeoutError' ? new Error(`no answer from ${u.host} within ${timeoutMs} ms`) : err;
      debug(`engine-api: GET ${url}/version -> ${e.message}`);
      reject(e);
    });
    req.end();
  });
}
