import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentContext, readContext, removeContext, setCurrentContext, writeContext } from '../../src/docker-context/store.js';
import { repoRoot } from '../helpers/cli.js';
import { legacyFixture } from '../helpers/fixture.js';

// The docker CLI's context store, read and written as docker 28 does
// (drivers-test-fixtures/docker-context/SOURCES.md), and checked through docker itself.

const recorded = join(repoRoot, 'drivers-test-fixtures', 'docker-context', 'docker-28.2.2');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const dockerMissing = (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, 'docker'))) ? '' : 'the docker CLI is not installed (npm test installs it)';
if (dockerMissing && process.env.CI) throw new Error(dockerMissing);

let dir: string;
let saved: string | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machine-dctx-'));
  saved = process.env.DOCKER_CONFIG;
  process.env.DOCKER_CONFIG = dir;
});
afterEach(() => {
  if (saved === undefined) delete process.env.DOCKER_CONFIG;
  else process.env.DOCKER_CONFIG = saved;
});

const docker = (...args: string[]) => execFileSync('docker', args, { env: { ...process.env, DOCKER_CONFIG: dir, DOCKER_HOST: '', DOCKER_CONTEXT: '' }, encoding: 'utf8' });
const certs = join(legacyFixture, 'certs');
const tls = () => ({ ca: readFileSync(join(certs, 'ca.pem')), cert: readFileSync(join(certs, 'cert.pem')), key: readFileSync(join(certs, 'key.pem')) });

describe('docker contexts in the docker CLI\'s own store', () => {
  it('reads the files docker wrote: a context, its endpoint, the current one', () => {
    for (const name of ['tls-ctx', 'ssh-ctx']) {
      mkdirSync(join(dir, 'contexts', 'meta', sha(name)), { recursive: true });
      copyFileSync(join(recorded, `${name}.meta.json`), join(dir, 'contexts', 'meta', sha(name), 'meta.json'));
    }
    copyFileSync(join(recorded, 'config.json'), join(dir, 'config.json'));
    expect(readContext('tls-ctx')).toEqual({ name: 'tls-ctx', metadata: { Description: 'made by docker' }, host: 'tcp://10.0.0.1:2376' });
    expect(readContext('ssh-ctx')?.host).toBe('ssh://root@10.0.0.2:22');
    expect(readContext('nope')).toBeUndefined();
    expect(currentContext()).toBe('tls-ctx');
  });

  it('changes the current context as docker context use does, keeping the rest of config.json', async () => {
    writeFileSync(join(dir, 'config.json'), '{\n\t"auths": {},\n\t"psFormat": "table {{.ID}}"\n}\n', { mode: 0o600 });
    await setCurrentContext('tls-ctx');
    // Byte for byte what docker wrote in the same case.
    expect(readFileSync(join(dir, 'config.json'), 'utf8').trimEnd()).toBe(readFileSync(join(recorded, 'config.json'), 'utf8').trimEnd());
    expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o600);
    await setCurrentContext('');
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual({ auths: {}, psFormat: 'table {{.ID}}' });
    expect(currentContext()).toBe('');
  });

  it('says which file is broken and how to get out', async () => {
    writeFileSync(join(dir, 'config.json'), '{"auths": ');
    expect(() => currentContext()).toThrow(`The docker CLI's ${join(dir, 'config.json')} is not a JSON object: fix or remove it, then try again`);
  });

  it.skipIf(dockerMissing)(`writes contexts the docker CLI reads as its own${dockerMissing ? ` (skipped: ${dockerMissing})` : ''}`, async () => {
    await writeContext({ name: 'machine-m1', description: 'machine m1 (generic)', fields: { MachineName: 'm1', MachineStore: '/s' }, host: 'tcp://10.0.0.3:2376', tls: tls() });
    await setCurrentContext('machine-m1');
    const [inspected] = JSON.parse(docker('context', 'inspect', 'machine-m1')) as Array<Record<string, any>>;
    expect(inspected!['Endpoints'].docker).toEqual({ Host: 'tcp://10.0.0.3:2376', SkipTLSVerify: false });
    expect(inspected!['Metadata']).toEqual({ Description: 'machine m1 (generic)', MachineName: 'm1', MachineStore: '/s' });
    expect(inspected!['TLSMaterial']).toEqual({ docker: ['ca.pem', 'cert.pem', 'key.pem'] });
    expect(docker('context', 'ls', '--format', '{{.Name}} {{.Current}}')).toContain('machine-m1 true');
    // docker's own layout and modes, and the key material as given.
    const tlsDir = join(dir, 'contexts', 'tls', sha('machine-m1'), 'docker');
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) expect(statSync(join(tlsDir, f)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(tlsDir, 'key.pem'))).toEqual(tls().key);
    // The same context moved to an SSH endpoint keeps no TLS files, which docker would send.
    await writeContext({ name: 'machine-m1', description: 'machine m1 (generic)', fields: { MachineName: 'm1', MachineStore: '/s' }, host: 'ssh://root@10.0.0.3:22' });
    const [ssh] = JSON.parse(docker('context', 'inspect', 'machine-m1')) as Array<Record<string, any>>;
    expect(ssh!['Endpoints'].docker.Host).toBe('ssh://root@10.0.0.3:22');
    expect(ssh!['TLSMaterial']).toEqual({});
    // docker sees the current context go when machine removes it and goes back to default.
    await setCurrentContext('');
    await removeContext('machine-m1');
    expect(docker('context', 'ls', '--format', '{{.Name}}').trim()).toBe('default');
    expect(docker('context', 'show').trim()).toBe('default');
  });
});
