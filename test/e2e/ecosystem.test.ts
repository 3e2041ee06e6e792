import { existsSync, readFileSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestHost, makeTestKey, makeTinyImageTar, type TestHost } from '../harness/hosts.js';
import { bash, machine, machineCmd, machineSpawn, tempStore } from '../helpers/cli.js';
import { createServer } from 'node:net';
import { statSync } from 'node:fs';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';

// #15: machine in the Docker ecosystem: docker contexts, the SSH transport, proxies, mount
// and port forwarding, each checked the way a user would, with the docker CLI and ssh.

const skipReason = inject('e2eSkipReason');

/** The docker CLI as a user runs it after `machine use`: no DOCKER_* variable set. */
function docker(dockerConfig: string, script: string) {
  return bash(script, { DOCKER_CONFIG: dockerConfig, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined, DOCKER_TLS_VERIFY: undefined, DOCKER_CERT_PATH: undefined });
}

/** A fresh folder with a store path and a test key, and a container host that lets the key in. */
async function hostAndStore(prefix: string): Promise<{ work: string; store: string; key: string; host: TestHost }> {
  const work = await tempStore(prefix);
  const key = await makeTestKey(work);
  const host = await createTestHost({ dockerHost: inject('dockerHost'), image: inject('hostImage'), keyPath: key });
  return { work, store: join(work, 'store'), key, host };
}

async function cleanUp(host: TestHost | undefined, work: string | undefined): Promise<void> {
  await host?.remove();
  if (work) await rm(work, { recursive: true, force: true });
}

describe.skipIf(skipReason)(`docker contexts${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let work: string;
  let store: string;
  let key: string;
  let host: TestHost;
  let dockerConfig: string;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    ({ work, store, key, host } = await hostAndStore('machine-e2e-context-'));
    dockerConfig = join(work, 'docker-config');
    env = { DOCKER_CONFIG: dockerConfig, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined };
  });
  afterAll(async () => {
    await cleanUp(host, work);
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

describe.skipIf(skipReason)(`the SSH transport${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const dockerHost = inject('dockerHost');
  const image = inject('hostImage');
  let work: string;
  let store: string;
  let key: string;
  let host: TestHost;
  let home: string;
  let env: Record<string, string | undefined>;
  let tinyTar: string;

  beforeAll(async () => {
    ({ work, store, key, host } = await hostAndStore('machine-e2e-sshtransport-'));
    // The user's home, with its ~/.ssh/config. OpenSSH reads the config of the user's passwd
    // entry, not of HOME; the ssh on this PATH gives it HOME's explicitly, so the test uses
    // the real OpenSSH client on a home it owns instead of root's.
    home = join(work, 'home');
    const bin = join(work, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'ssh'), '#!/bin/sh\nexec /usr/bin/ssh -F "$HOME/.ssh/config" "$@"\n');
    chmodSync(join(bin, 'ssh'), 0o755);
    env = { HOME: home, PATH: `${bin}:${process.env.PATH}`, DOCKER_CONFIG: join(work, 'docker-config'), DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined };
    tinyTar = await makeTinyImageTar(process.env.MACHINE_TEST_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'machine-test'));
  });
  afterAll(async () => {
    await cleanUp(host, work);
  });

  const listening2376 = async () => (await host.exec(`ss -ltnH 'sport = :2376' | wc -l`)).stdout.trim();
  const withEnv = (script: string) => bash(`set -e; eval "$(${machineCmd(store)} env st1)"; ${script}`, env);

  it('a typo in --engine-transport is one line, and nothing is made', async () => {
    const r = await machine(store, ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', key, '--engine-transport', 'sssh', 'st0'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('--engine-transport takes "tls" or "ssh", not "sssh"');
    expect((await machine(store, ['ls', '-q'], { env })).stdout.trim()).toBe('');
    expect(existsSync(join(home, '.ssh', 'config'))).toBe(false);
  });

  it('runs docker over ssh:// with no TLS port open; ssh machine-NAME works; it switches to TLS and back; a changed host key is refused', async () => {
    const made = await machine(
      store,
      ['create', '-d', 'generic', '--engine-install-url', 'distro', '--generic-ip-address', host.ip, '--generic-ssh-key', key, '--engine-transport', 'ssh', '--ssh-config', 'st1'],
      { env },
    );
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(made.stdout).toContain(`Added the machines' SSH entries to ${join(home, '.ssh', 'config')}`);
    expect(readFileSync(join(home, '.ssh', 'config'), 'utf8')).toContain(`Include "${join(store, 'ssh_config')}"`);
    expect((await machine(store, ['url', 'st1'], { env })).stdout.trim()).toBe(`ssh://root@${host.ip}:22`);
    const e = (await machine(store, ['env', '--shell', 'bash', 'st1'], { env })).stdout;
    expect(e).toContain(`export DOCKER_HOST="ssh://root@${host.ip}:22"`);
    expect(e).toContain('unset DOCKER_TLS_VERIFY');
    expect(await listening2376()).toBe('0');
    // The docker CLI's own ssh, with the entry machine wrote: version, load and run.
    const run = await withEnv(`docker version --format '{{.Server.Os}}'; docker import ${tinyTar} e2e-tiny:1 >/dev/null; docker run --rm e2e-tiny:1 /bin/busybox echo hello-over-ssh`);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual(['linux', 'hello-over-ssh']);
    expect((await bash('ssh machine-st1 hostname', env)).stdout.trim()).toBe('st1');
    expect((await machine(store, ['ls', '--format', '{{.Name}} {{.State}} {{.URL}}'], { env })).stdout.trim()).toBe(`st1 Running ssh://root@${host.ip}:22`);
    expect((await machine(store, ['version', 'st1'], { env })).stdout.trim()).toMatch(/^\d+\.\d+/);

    // To TLS: the port opens and env goes back to tcp:// with certificates.
    const toTls = await machine(store, ['provision', '--engine-transport', 'tls', 'st1'], { env });
    expect(toTls.stderr).toBe('');
    expect(toTls.code).toBe(0);
    expect(await listening2376()).toBe('1');
    expect((await withEnv(`echo $DOCKER_HOST; docker info --format '{{.Name}}'`)).stdout.trim()).toBe(`tcp://${host.ip}:2376\nst1`);
    // And back: the port closes again.
    expect((await machine(store, ['provision', '--engine-transport', 'ssh', 'st1'], { env })).code).toBe(0);
    expect(await listening2376()).toBe('0');
    expect(JSON.parse(readFileSync(join(store, 'machines', 'st1', 'config.json'), 'utf8')).HostOptions.EngineOptions.Transport).toBe('ssh');
    expect((await withEnv(`docker info --format '{{.Name}}'`)).stdout.trim()).toBe('st1');

    // The host is reinstalled behind machine's back: a new host key. The docker CLI's ssh refuses it.
    await host.exec('rm -f /etc/ssh/ssh_host_* && ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh');
    const refused = await withEnv(`docker version --format '{{.Server.Os}}'`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    expect((await machine(store, ['rm', '-f', '-y', 'st1'], { env })).code).toBe(0);
  });

  it('swarm mode works over the SSH transport: a manager and a worker, the cluster seen through docker over ssh://', async () => {
    const hosts = [await createTestHost({ dockerHost, image, keyPath: key }), await createTestHost({ dockerHost, image, keyPath: key })];
    try {
      const flags = (h: TestHost) => ['create', '-d', 'generic', '--engine-install-url', 'distro', '--generic-ip-address', h.ip, '--generic-ssh-key', key, '--engine-transport', 'ssh', '--ssh-config'];
      const m = await machine(store, [...flags(hosts[0]!), '--swarm-init', 'sw1'], { env });
      expect(m.stderr).toBe('');
      expect(m.code).toBe(0);
      const w = await machine(store, [...flags(hosts[1]!), '--swarm-join', 'sw1', 'sw2'], { env });
      expect(w.stderr).toBe('');
      expect(w.code).toBe(0);
      const nodes = await bash(`set -e; eval "$(${machineCmd(store)} env sw1)"; echo $DOCKER_HOST; docker node ls --format '{{.Hostname}} {{.Status}}' | sort`, env);
      expect(nodes.stderr).toBe('');
      expect(nodes.stdout.trim().split('\n')).toEqual([`ssh://root@${hosts[0]!.ip}:22`, 'sw1 Ready', 'sw2 Ready']);
      for (const h of hosts) expect((await h.exec(`ss -ltnH 'sport = :2376' | wc -l`)).stdout.trim()).toBe('0');
      expect((await machine(store, ['rm', '-y', 'sw2', 'sw1'], { env })).code).toBe(0);
    } finally {
      for (const h of hosts) await h.remove();
    }
  });
});

/** A local port nobody listens on now. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe.skipIf(skipReason)(`mount and port-forward${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let work: string;
  let store: string;
  let key: string;
  let host: TestHost;

  beforeAll(async () => {
    ({ work, store, key, host } = await hostAndStore('machine-e2e-mountfwd-'));
    const made = await machine(store, ['create', '-d', 'generic', '--engine-install-url', 'distro', '--generic-ip-address', host.ip, '--generic-ssh-key', key, 'mf1']);
    if (made.code !== 0) throw new Error(`create failed: ${made.stderr}`);
  });
  afterAll(async () => {
    if (work) {
      await machine(store, ['port-forward', '--stop', 'mf1']);
      await bash(`fusermount3 -u ${join(work, 'mnt')} 2>/dev/null || true`);
    }
    await cleanUp(host, work);
  });

  it('mount reads and writes files of the machine; mount -u lets go; without sshfs it is one line', async () => {
    await host.exec('mkdir -p /srv/data && echo from-the-machine > /srv/data/a.txt');
    const mnt = join(work, 'mnt');
    const m = await machine(store, ['mount', 'mf1:/srv/data', mnt]);
    expect(m.stderr).toBe('');
    expect(m.code).toBe(0);
    expect(readFileSync(join(mnt, 'a.txt'), 'utf8')).toBe('from-the-machine\n');
    writeFileSync(join(mnt, 'b.txt'), 'from-here\n');
    expect((await host.exec('cat /srv/data/b.txt')).stdout).toBe('from-here\n');
    const u = await machine(store, ['mount', '-u', 'mf1:/srv/data', mnt]);
    expect(u.code).toBe(0);
    expect(existsSync(join(mnt, 'a.txt'))).toBe(false);

    const noSshfs = await machine(store, ['mount', 'mf1:/srv/data', mnt], { env: { PATH: join(work, 'no-tools') } });
    expect(noSshfs.code).toBe(1);
    expect(noSshfs.stderr.trim()).toBe('sshfs is not installed: install it (Debian and Ubuntu: apt-get install sshfs) to mount a folder of a machine');
  });

  it('port-forward reaches a port published on the machine, in the foreground and in the background; a port in use is one line', async () => {
    const tinyTar = await makeTinyImageTar(process.env.MACHINE_TEST_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'machine-test'));
    const web = await bash(
      `set -e; eval "$(${machineCmd(store)} env mf1)"; docker import ${tinyTar} e2e-tiny:1 >/dev/null; ` +
        `docker run -d -p 8081:80 e2e-tiny:1 /bin/busybox sh -c '/bin/busybox mkdir /www && echo hello-forward > /www/index.html && exec /bin/busybox httpd -f -p 80 -h /www' >/dev/null`,
    );
    expect(web.stderr).toBe('');
    const get = async (port: number) => (await fetch(`http://127.0.0.1:${port}/`)).text();

    // Foreground: until Ctrl-C.
    const p1 = await freePort();
    const fg = machineSpawn(store, ['port-forward', 'mf1', `${p1}:8081`]);
    let out = '';
    await new Promise<void>((resolve) => fg.child.stdout.on('data', (d: Buffer) => ((out += d.toString()), out.includes('Forwarding') && resolve())));
    expect(out.trim()).toBe(`Forwarding 127.0.0.1:${p1} -> mf1:8081 (Ctrl-C to stop)`);
    expect(await get(p1)).toBe('hello-forward\n');
    fg.child.kill('SIGINT');
    expect((await fg.done).code).toBe(130);
    await expect(get(p1)).rejects.toThrow();

    // Background: -d returns once forwarding works; --stop ends that process.
    const p2 = await freePort();
    const bg = await machine(store, ['port-forward', '-d', 'mf1', `${p2}:8081`]);
    expect(bg.stderr).toBe('');
    expect(bg.stdout).toMatch(new RegExp(`^Forwarding 127.0.0.1:${p2} -> mf1:8081 in the background \\(pid (\\d+)\\); stop it with "machine port-forward --stop mf1"`));
    expect(await get(p2)).toBe('hello-forward\n');
    const again = await machine(store, ['port-forward', '-d', 'mf1', `${await freePort()}:8081`]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already forwards 127.0.0.1:\d+ -> mf1:8081 in the background/);
    const stop = await machine(store, ['port-forward', '--stop', 'mf1']);
    expect(stop.stdout.trim()).toBe(`Stopped forwarding 127.0.0.1:${p2} -> mf1:8081`);
    await expect(get(p2)).rejects.toThrow();
    expect(existsSync(join(store, 'machines', 'mf1', 'port-forward.pid'))).toBe(false);

    // A local port in use: one line, and nothing left running.
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const taken = (busy.address() as { port: number }).port;
    try {
      const r = await machine(store, ['port-forward', '-d', 'mf1', `${taken}:8081`]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`Local port ${taken} is in use: pick another with LOCAL:REMOTE (e.g. ${taken + 1}:8081)`);
      expect(existsSync(join(store, 'machines', 'mf1', 'port-forward.pid'))).toBe(false);
      const bad = await machine(store, ['port-forward', 'mf1', '80:99999']);
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim()).toBe('Invalid port forward "80:99999": ports are numbers from 1 to 65535, written [LOCAL:]REMOTE (e.g. 8080:80)');
    } finally {
      busy.close();
    }
  });
});

describe.skipIf(skipReason)(`proxies${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let work: string;
  let store: string;
  let key: string;
  let host: TestHost;
  const proxies: TestProxy[] = [];
  // The test's install script, served by the proxy as get.machine.test: it notes the proxy it
  // was run with, then installs Debian's engine from the mirror directly (the test proxy
  // forwards nowhere but this machine).
  const installScript = [
    '#!/bin/sh',
    'set -e',
    'echo "$HTTP_PROXY $https_proxy" > /root/install-saw-proxy',
    "env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null'",
    '',
  ].join('\n');

  beforeAll(async () => {
    ({ work, store, key, host } = await hostAndStore('machine-e2e-proxy-'));
  });
  afterAll(async () => {
    for (const p of proxies) await p.close();
    await cleanUp(host, work);
  });

  const dockerdEnv = async () => (await host.exec('systemctl show docker.service -p Environment --value')).stdout.trim().split(/\s+/);
  const proxyEnv = (url: string) => ({ HTTP_PROXY: url, HTTPS_PROXY: url, NO_PROXY: 'registry.corp', http_proxy: undefined, https_proxy: undefined, no_proxy: undefined });

  it('create installs the engine through the proxy and gives dockerd the proxy; provision re-applies a new one; other commands keep it', async () => {
    // The host reaches this machine at its bridge gateway: the proxy listens there.
    const gateway = (await host.exec(`ip route | awk '/^default/ {print $3}'`)).stdout.trim();
    const p1 = await startTestProxy({ host: gateway, origins: { 'get.machine.test': { '/install.sh': installScript } } });
    proxies.push(p1);
    const made = await machine(
      store,
      ['create', '-d', 'generic', '--engine-install-url', 'http://get.machine.test/install.sh', '--generic-ip-address', host.ip, '--generic-ssh-key', key, 'px1'],
      { env: proxyEnv(p1.url) },
    );
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(p1.log).toContain('GET http://get.machine.test/install.sh');
    expect((await host.exec('cat /root/install-saw-proxy')).stdout.trim()).toBe(`${p1.url} ${p1.url}`);
    const env1 = await dockerdEnv();
    expect(env1).toContain(`HTTP_PROXY=${p1.url}`);
    expect(env1).toContain(`https_proxy=${p1.url}`);
    expect(env1).toContain(`NO_PROXY=registry.corp,${host.ip}`);
    // Kept beside the record, never in config.json (a proxy URL can hold a password).
    const dir = join(store, 'machines', 'px1');
    expect(statSync(join(dir, 'proxy.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).not.toContain(p1.url);

    // A new proxy: provision applies it.
    const p2 = await startTestProxy({ host: gateway });
    proxies.push(p2);
    expect((await machine(store, ['provision', 'px1'], { env: proxyEnv(p2.url) })).code).toBe(0);
    expect(await dockerdEnv()).toContain(`HTTP_PROXY=${p2.url}`);
    // regenerate-certs from a shell without the proxy keeps the recorded one.
    const bare = { HTTP_PROXY: undefined, HTTPS_PROXY: undefined, NO_PROXY: undefined, http_proxy: undefined, https_proxy: undefined, no_proxy: undefined };
    expect((await machine(store, ['regenerate-certs', '-f', 'px1'], { env: bare })).code).toBe(0);
    expect(await dockerdEnv()).toContain(`HTTP_PROXY=${p2.url}`);
    // provision without proxy variables removes it.
    expect((await machine(store, ['provision', 'px1'], { env: bare })).code).toBe(0);
    expect((await dockerdEnv()).join(' ')).not.toMatch(/PROXY/i);
    expect(existsSync(join(dir, 'proxy.json'))).toBe(false);
  });
});
