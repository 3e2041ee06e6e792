import { once } from 'node:events';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { expect } from 'vitest';
import { generateServerCert } from '../../src/certs/generate.js';
import { machine } from './cli.js';

async function listen<S extends Server | HttpsServer>(server: S, port = 0): Promise<number> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/**
 * A generic machine whose record and files are made by hand in `store` (which gets its CA
 * and client pair from a `none` machine made and removed first): its state is a TCP probe of
 * a listener standing in for sshd, its engine a TLS server with a certificate from the
 * store's CA that demands the store's client certificate, as dockerd does, and names its
 * version in the Server header of every answer (GET /_ping included).
 */
export interface StandInMachine {
  dir: string;
  /** A new engine on the same port (new TLS ticket keys), naming this version, or answering as `answer` does. */
  startEngine(version?: string | RequestListener): Promise<void>;
  stopEngine(): Promise<void>;
  close(): void;
}

export async function standInMachine(store: string, name: string): Promise<StandInMachine> {
  expect((await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:9', 'tmp'])).code).toBe(0);
  const base = JSON.parse(await readFile(join(store, 'machines', 'tmp', 'config.json'), 'utf8'));
  expect((await machine(store, ['rm', '-y', 'tmp'])).code).toBe(0);
  const certs = join(store, 'certs');
  const dir = join(store, 'machines', name);
  const sshd = createServer((s) => s.destroy());
  const sshPort = await listen(sshd);
  await mkdir(dir, { recursive: true });
  for (const f of ['ca.pem', 'cert.pem', 'key.pem']) await copyFile(join(certs, f), join(dir, f));
  await generateServerCert({ caCertPath: join(certs, 'ca.pem'), caKeyPath: join(certs, 'ca-key.pem'), certPath: join(dir, 'server.pem'), keyPath: join(dir, 'server-key.pem'), org: name, hosts: ['127.0.0.1'] });
  let engine: HttpsServer | undefined;
  let enginePort = 0;
  const stopEngine = async () => {
    if (!engine) return;
    engine.closeAllConnections();
    engine.close();
    await once(engine, 'close');
    engine = undefined;
  };
  const startEngine = async (version: string | RequestListener = '26.1.5+dfsg1') => {
    await stopEngine();
    const read = (f: string) => readFile(join(dir, f));
    const answer: RequestListener =
      typeof version === 'function'
        ? version
        : (_req, res) => {
            res.setHeader('Server', `Docker/${version} (linux)`);
            res.end('OK');
          };
    engine = createHttpsServer({ cert: await read('server.pem'), key: await read('server-key.pem'), ca: await read('ca.pem'), requestCert: true, rejectUnauthorized: true }, answer);
    enginePort = await listen(engine, enginePort);
  };
  await startEngine();
  base.Name = name;
  base.DriverName = 'generic';
  base.Driver = { MachineName: name, StorePath: store, IPAddress: '127.0.0.1', SSHPort: sshPort, SSHUser: 'root', EnginePort: enginePort };
  await writeFile(join(dir, 'config.json'), JSON.stringify(base));
  return {
    dir,
    startEngine,
    stopEngine,
    close: () => {
      engine?.close();
      sshd.close();
    },
  };
}
