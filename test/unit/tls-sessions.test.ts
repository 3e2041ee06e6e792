import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateClientCert } from '../../src/certs/generate.js';
import { tlsSessionsFile } from '../../src/store/paths.js';
import { machine, tempStore } from '../helpers/cli.js';
import { standInMachine, type StandInMachine } from '../helpers/engine-standin.js';

// ls resumes the TLS session of its last call to an engine (src/engine/tls-sessions.ts),
// through the built CLI, against an engine stand-in that demands the store's client
// certificate as dockerd does, and issues TLS 1.3 tickets as dockerd does.

describe('TLS sessions of engine calls', () => {
  let store: string;
  let g1: StandInMachine;
  const certs = () => join(store, 'certs');
  const dir = () => g1.dir;

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
    g1 = await standInMachine(store, 'g1');
  });

  afterAll(() => g1?.close());

  it('resumes the session of the last call, kept in the store, private', async () => {
    expect(await ls()).toEqual({ version: 'g1 Running v26.1.5+dfsg1', resumed: false });
    expect((await stat(tlsSessionsFile(store))).mode & 0o777).toBe(0o600);
    expect(await ls()).toEqual({ version: 'g1 Running v26.1.5+dfsg1', resumed: true });
  });

  it('offers a recent session again without asking for a new one: the file is not written again', async () => {
    await ls();
    const before = await readFile(tlsSessionsFile(store), 'utf8');
    expect((await ls()).resumed).toBe(true);
    expect((await ls()).resumed).toBe(true);
    expect(await readFile(tlsSessionsFile(store), 'utf8')).toBe(before);
  });

  it('does a whole handshake with a restarted engine or a new client pair, and keeps the new session', async () => {
    await ls();
    await g1.startEngine();
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

  it('reads the version from an answer that comes in pieces, says what a failing engine answered, and asks /version when the ping names none', async () => {
    const versionOf = async () => (await machine(store, ['ls', '--format', '{{.DockerVersion}} {{.Error}}'], { env: { DOCKER_HOST: '' } })).stdout.trim();
    await g1.startEngine((_req, res) => {
      // The head in two writes, split inside the Server header.
      const socket = res.socket!;
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSer');
      setTimeout(() => socket.end('ver: Docker/24.0.9 (linux)\r\n\r\nOK'), 50);
    });
    expect(await versionOf()).toBe('v24.0.9');
    await g1.startEngine((_req, res) => {
      res.statusCode = 500;
      res.end('{"message":"engine is on fire"}');
    });
    expect(await versionOf()).toBe('Unknown Unable to query docker version: engine answered 500: {"message":"engine is on fire"}');
    await g1.startEngine((req, res) => {
      res.setHeader('Server', 'nginx');
      res.end(req.url === '/version' ? JSON.stringify({ Version: '25.0.2', ApiVersion: '1.44', Os: 'linux', Arch: 'amd64' }) : 'OK');
    });
    expect(await versionOf()).toBe('v25.0.2');
    await g1.startEngine();
  });
});
