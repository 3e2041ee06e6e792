import { once } from 'node:events';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateClientCert, generateServerCert } from '../../src/certs/generate.js';
import { tlsSessionsFile } from '../../src/store/paths.js';
import { machine, tempStore } from '../helpers/cli.js';

// ls resumes the TLS session of its last call to an engine (src/engine/tls-sessions.ts),
// through the built CLI, against an engine stand-in that demands the store's client
// certificate as dockerd does, and issues TLS 1.3 tickets as dockerd does.

async function listen<S extends Server | HttpsServer>(server: S): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

describe('TLS sessions of engine calls', () => {
  let store: string;
  let sshd: Server;
  let engine: HttpsServer | undefined;
  let enginePort = 0;
  const certs = () => join(store, 'certs');
  const dir = () => join(store, 'machines', 'g1');

  /** A new engine on the same port: new ticket keys, so no session from before resumes. */
  async function startEngine(): Promise<void> {
    engine?.close();
    const read = (f: string) => readFile(join(dir(), f));
    engine = createHttpsServer({ cert: await read('server.pem'), key: await read('server-key.pem'), ca: await read('ca.pem'), requestCert: true, rejectUnauthorized: true }, (_req, res) => {
      res.setHeader('Server', 'Docker/26.1.5+dfsg1 (linux)');
      res.end('OK');
    });
    engine.listen(enginePort, '127.0.0.1');
    await once(engine, 'listening');
    enginePort = (engine.address() as { port: number }).port;
  }

  /** `--debug ls`: the machine's version and whether its engine call resumed a session. */
  async function ls(): Promise<{ version: string; resumed: boolean }> {
    const r = await machine(store, ['--debug', 'ls', '--format', '{{.Name}} {{.State}} {{.DockerVersion}}'], { env: { DOCKER_HOST: '' } });
    expect(r.code).toBe(0);
    const call = r.stderr.split('\n').find((l) => l.includes('engine-api: GET')) ?? '(no engine call)';
    expect(call).toMatch(/-> 200 /);
    return { version: r.stdout.trim(), resumed: call.includes('resumed') };
  }

  beforeAll(async () => {
    store = await tempStore('machine-tls-sessions-');
    // The store's CA and client pair, and a record to start from, come with a none machine.
    expect((await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:9', 'tmp'])).code).toBe(0);
    const base = JSON.parse(await readFile(join(store, 'machines', 'tmp', 'config.json'), 'utf8'));
    expect((await machine(store, ['rm', '-y', 'tmp'])).code).toBe(0);
    // A generic machine's record and files, made by hand: its state is a TCP probe of its SSH
    // port, its engine a TLS server with a certificate from the store's CA.
    sshd = createServer((s) => s.destroy());
    const sshPort = await listen(sshd);
    await mkdir(dir(), { recursive: true });
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) await copyFile(join(certs(), f), join(dir(), f));
    await generateServerCert({ caCertPath: join(certs(), 'ca.pem'), caKeyPath: join(certs(), 'ca-key.pem'), certPath: join(dir(), 'server.pem'), keyPath: join(dir(), 'server-key.pem'), org: 'g1', hosts: ['127.0.0.1'] });
    await startEngine();
    base.Name = 'g1';
    base.DriverName = 'generic';
    base.Driver = { MachineName: 'g1', StorePath: store, IPAddress: '127.0.0.1', SSHPort: sshPort, SSHUser: 'root', EnginePort: enginePort };
    await writeFile(join(dir(), 'config.json'), JSON.stringify(base));
  });

  afterAll(() => {
    engine?.close();
    sshd?.close();
  });

  it('resumes the session of the last call, kept in the store, private', async () => {
    expect(await ls()).toEqual({ version: 'g1 Running v26.1.5+dfsg1', resumed: false });
    expect((await stat(tlsSessionsFile(store))).mode & 0o777).toBe(0o600);
    expect(await ls()).toEqual({ version: 'g1 Running v26.1.5+dfsg1', resumed: true });
  });

  it('does a whole handshake with a restarted engine or a new client pair, and keeps the new session', async () => {
    await ls();
    await startEngine();
    expect(await ls()).toEqual({ version: 'g1 Running v26.1.5+dfsg1', resumed: false });
    expect((await ls()).resumed).toBe(true);
    await generateClientCert({ caCertPath: join(certs(), 'ca.pem'), caKeyPath: join(certs(), 'ca-key.pem'), certPath: join(dir(), 'cert.pem'), keyPath: join(dir(), 'key.pem'), org: 'someone' });
    expect(await ls()).toEqual({ version: 'g1 Running v26.1.5+dfsg1', resumed: false });
    expect((await ls()).resumed).toBe(true);
  });

  it('costs nothing but the handshake when the file is not one', async () => {
    await writeFile(tlsSessionsFile(store), '{not json');
    expect(await ls()).toEqual({ version: 'g1 Running v26.1.5+dfsg1', resumed: false });
    expect((await ls()).resumed).toBe(true);
  });
});
