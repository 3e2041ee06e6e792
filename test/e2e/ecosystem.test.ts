import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestHost, makeTestKey, type TestHost } from '../harness/hosts.js';
import { bash, machine, tempStore } from '../helpers/cli.js';

// #15: machine in the Docker ecosystem: docker contexts, the SSH transport, proxies, mount
// and port forwarding, each checked the way a user would, with the docker CLI and ssh.

const skipReason = inject('e2eSkipReason');

/** The docker CLI as a user runs it after `machine use`: no DOCKER_* variable set. */
function docker(dockerConfig: string, script: string) {
  return bash(script, { DOCKER_CONFIG: dockerConfig, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined, DOCKER_TLS_VERIFY: undefined, DOCKER_CERT_PATH: undefined });
}

describe.skipIf(skipReason)(`docker contexts${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const dockerHost = inject('dockerHost');
  const image = inject('hostImage');
  let work: string;
  let store: string;
  let key: string;
  let host: TestHost;
  let dockerConfig: string;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    work = await tempStore('machine-e2e-context-');
    store = join(work, 'store');
    dockerConfig = join(work, 'docker-config');
    env = { DOCKER_CONFIG: dockerConfig, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined };
    key = await makeTestKey(work);
    host = await createTestHost({ dockerHost, image, keyPath: key });
  });
  afterAll(async () => {
    await host?.remove();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('create --context makes a context docker uses with no variables; ls and active show it; it follows a new CA; rm removes it', async () => {
    const made = await machine(
      store,
      ['create', '-d', 'generic', '--engine-install-url', 'distro', '--generic-ip-address', host.ip, '--generic-ssh-key', key, '--context', 'ctx1'],
      { env },
    );
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(made.stdout).toContain('Docker context "machine-ctx1" is now current');
    const v = await docker(dockerConfig, `docker context show && docker info --format '{{.Name}}'`);
    expect(v.stderr).toBe('');
    expect(v.stdout.trim().split('\n')).toEqual(['machine-ctx1', 'ctx1']);
    expect((await machine(store, ['ls', '--format', '{{.Name}} {{.Active}}'], { env })).stdout.trim()).toBe('ctx1 *');
    expect((await machine(store, ['active'], { env })).stdout.trim()).toBe('ctx1');

    // A new CA and client pair for the store: the context gets them with the machine's new certificate.
    const regen = await machine(store, ['regenerate-certs', '-f', '--client-certs', 'ctx1'], { env });
    expect(regen.code).toBe(0);
    const ctxCa = join(dockerConfig, 'contexts', 'tls');
    expect(existsSync(ctxCa)).toBe(true);
    expect((await docker(dockerConfig, `docker version --format '{{.Server.Os}}'`)).stdout.trim()).toBe('linux');
    const inspect = JSON.parse((await docker(dockerConfig, 'docker context inspect machine-ctx1')).stdout)[0];
    const ca = readFileSync(join(inspect.Storage.TLSPath, 'docker', 'ca.pem'), 'utf8');
    expect(ca).toBe(readFileSync(join(store, 'certs', 'ca.pem'), 'utf8'));

    // env --context: the shell form of the same.
    const e = await machine(store, ['env', '--shell', 'bash', '--context', 'ctx1'], { env });
    expect(e.stdout).toContain('export DOCKER_CONTEXT="machine-ctx1"');
    expect(e.stdout).toContain('unset DOCKER_HOST');
    expect((await bash(`eval "$(${process.execPath} ${join(process.cwd(), 'dist', 'cli', 'main.cjs')} env --context ctx1)"; docker info --format '{{.Name}}'`, { ...env, MACHINE_STORAGE_PATH: store, DOCKER_HOST: 'tcp://127.0.0.1:9' })).stdout.trim()).toBe('ctx1');

    // use -u goes back to docker's default; use NAME comes back.
    const un = await machine(store, ['use', '-u'], { env });
    expect(un.code).toBe(0);
    expect((await docker(dockerConfig, 'docker context show')).stdout.trim()).toBe('default');
    expect((await machine(store, ['ls', '--format', '{{.Name}} {{.Active}}'], { env })).stdout.trim()).toBe('ctx1 -');
    const use = await machine(store, ['use', 'ctx1'], { env });
    expect(use.stdout.trim()).toBe('machine-ctx1');
    expect(use.stderr.trim()).toBe('Current context is now "machine-ctx1"');

    const rmr = await machine(store, ['rm', '-y', 'ctx1'], { env });
    expect(rmr.code).toBe(0);
    expect((await docker(dockerConfig, `docker context show; docker context ls --format '{{.Name}}'`)).stdout.trim()).toBe('default\ndefault');
  });

  it('bad input is one line and changes nothing: use of a missing machine, a context of that name someone else made', async () => {
    const missing = await machine(store, ['use', 'nosuch'], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('Docker machine "nosuch" does not exist. Use "machine ls" to list machines. Use "machine create" to add a new one.');
    expect(existsSync(join(dockerConfig, 'config.json')) ? JSON.parse(readFileSync(join(dockerConfig, 'config.json'), 'utf8')).currentContext : undefined).toBeUndefined();
    // A context the user made by hand under the name machine would use is never overwritten.
    await docker(dockerConfig, 'docker context create machine-ctx2 --docker host=tcp://127.0.0.1:9 >/dev/null');
    const r = await machine(
      store,
      ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', key, '--context', 'ctx2'],
      { env },
    );
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('A docker context named "machine-ctx2" exists and was not made for this machine: remove it with "docker context rm machine-ctx2" and try again');
    expect((await machine(store, ['ls', '-q'], { env })).stdout.trim()).toBe('');
    expect((await docker(dockerConfig, `docker context inspect machine-ctx2 --format '{{.Endpoints.docker.Host}}'`)).stdout.trim()).toBe('tcp://127.0.0.1:9');
  });
});
