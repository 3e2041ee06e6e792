import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostNotRunningError, UsageError } from '../../src/errors.js';
import docker from '../../src/drivers/docker/index.js';
import type { DriverContext } from '../../src/drivers/driver.js';
import type { DockerSettings } from '../../src/drivers/docker/flags.js';
import { SYSTEM_CONTAINER_CAPS, authorizedKeysArchive, containerCreateBody, mapState, type ContainerSpec } from '../../src/drivers/docker/container.js';
import { EngineApi, EngineApiError, EngineUnreachableError, parseDockerHost } from '../../src/drivers/docker/engine-api.js';
import { DEFAULT_DOCKER_HOST, imageBuildCommand, parseDockerFlags } from '../../src/drivers/docker/flags.js';
import { firstFree, staticPlan, upperHalf } from '../../src/drivers/docker/network.js';
import { parseCidr } from '../../src/net/ipv4.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'docker-driver-unit-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function ctx(name = 'm1', lines: string[] = []): DriverContext {
  return {
    machineName: name,
    storePath: '/store',
    machineDir: join(work, 'machines', name),
    log: { info: (m) => lines.push(m), debug: (m) => lines.push(m) },
    lock: (_k, fn) => fn(),
  };
}

const spec: ContainerSpec = {
  name: 'm1',
  image: 'machine-host:bookworm',
  network: 'machine',
  volume: 'machine-m1-docker',
  cpus: 0,
  memoryMB: 0,
  publish: false,
  enginePort: 2376,
  labels: { 'io.machine.name': 'm1', 'io.machine.store': '/store' },
};

describe('docker driver: container state', () => {
  it('maps engine states to machine states', () => {
    expect(mapState('running')).toBe('Running');
    expect(mapState('paused')).toBe('Paused');
    expect(mapState('restarting')).toBe('Starting');
    expect(mapState('removing')).toBe('Stopping');
    expect(mapState('created')).toBe('Stopped');
    expect(mapState('exited')).toBe('Stopped');
    // dead cannot be started again, and a missing container is a record pointing at nothing.
    expect(mapState('dead')).toBe('Error');
    expect(mapState(undefined)).toBe('Error');
    expect(mapState('something-new')).toBe('Error');
  });
});

describe('docker driver: container create body', () => {
  it('runs systemd as a system container without --privileged', () => {
    const body = containerCreateBody(spec) as Record<string, any>;
    const hc = body.HostConfig;
    expect(body.Image).toBe('machine-host:bookworm');
    expect(body.Hostname).toBe('m1');
    expect(body.Cmd).toEqual(['/sbin/init']);
    expect(body.Env).toEqual(['container=docker']);
    expect(body.StopSignal).toBe('SIGRTMIN+3');
    expect(body.Labels).toEqual({ 'io.machine.name': 'm1', 'io.machine.store': '/store' });
    expect(hc.Privileged).toBeUndefined();
    expect(hc.CapAdd).not.toContain('SYS_RESOURCE');
    expect(hc.CapAdd).toEqual(expect.arrayContaining(['SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE', 'MKNOD', 'AUDIT_WRITE']));
    expect(new Set(hc.CapAdd).size).toBe(SYSTEM_CONTAINER_CAPS.length);
    expect(hc.CgroupnsMode).toBe('host');
    expect(hc.Binds).toEqual(['/sys/fs/cgroup:/sys/fs/cgroup:rw', 'machine-m1-docker:/var/lib/docker']);
    expect(hc.Tmpfs).toEqual({ '/run': '', '/run/lock': '', '/tmp': '' });
    expect(hc.SecurityOpt).toEqual(['seccomp=unconfined', 'apparmor=unconfined']);
    expect(hc.NetworkMode).toBe('machine');
    expect(hc.PortBindings).toBeUndefined();
    expect(body.ExposedPorts).toBeUndefined();
    expect(hc.NanoCpus).toBeUndefined();
    expect(hc.Memory).toBeUndefined();
    expect(body.NetworkingConfig).toEqual({ EndpointsConfig: { machine: {} } });
  });

  it('publishes SSH and the engine port on loopback, limits resources, fixes the address', () => {
    const body = containerCreateBody({ ...spec, publish: true, cpus: 1.5, memoryMB: 2048, ipAddress: '172.30.0.2' }) as Record<string, any>;
    const loopback = [{ HostIp: '127.0.0.1', HostPort: '' }];
    expect(body.HostConfig.PortBindings).toEqual({ '22/tcp': loopback, '2376/tcp': loopback });
    expect(body.ExposedPorts).toEqual({ '22/tcp': {}, '2376/tcp': {} });
    expect(body.HostConfig.NanoCpus).toBe(1_500_000_000);
    expect(body.HostConfig.Memory).toBe(2048 * 1024 * 1024);
    expect(body.NetworkingConfig.EndpointsConfig.machine).toEqual({ IPAMConfig: { IPv4Address: '172.30.0.2' } });
  });

  it("passes the machine's public key in the environment of the container's init, beside container=docker", () => {
    const base: ContainerSpec = { name: 'm1', image: 'i', network: 'n', volume: 'v', cpus: 0, memoryMB: 0, publish: false, enginePort: 2376, labels: {} };
    expect(containerCreateBody(base)['Env']).toEqual(['container=docker']);
    expect(containerCreateBody({ ...base, env: ['MACHINE_AUTHORIZED_KEY=ssh-ed25519 AAAA m1'] })['Env']).toEqual(['container=docker', 'MACHINE_AUTHORIZED_KEY=ssh-ed25519 AAAA m1']);
  });

  it('packs authorized_keys as a tar that the system tar reads: root-owned, 0700 and 0600', async () => {
    const tar = authorizedKeysArchive('ssh-ed25519 AAAAC3Nza machine-m1\n');
    expect(tar.length % 512).toBe(0);
    const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: tar, encoding: 'utf8' });
    expect(listing).toMatch(/^drwx------ 0\/0\s+0 .* \.ssh\/$/m);
    expect(listing).toMatch(/^-rw------- 0\/0\s+33 .* \.ssh\/authorized_keys$/m);
    const dir = await mkdtemp(join(work, 'tar-'));
    execFileSync('tar', ['-xf', '-', '-C', dir], { input: tar });
    expect(await readFile(join(dir, '.ssh', 'authorized_keys'), 'utf8')).toBe('ssh-ed25519 AAAAC3Nza machine-m1\n');
    expect((await stat(join(dir, '.ssh'))).mode & 0o777).toBe(0o700);
  });
});

describe('docker driver: flags', () => {
  it('has defaults that need no flags, and never reads $DOCKER_HOST', () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://192.0.2.9:2376';
    try {
      expect(parseDockerFlags({})).toEqual({
        DockerHost: 'unix:///var/run/docker.sock', DockerCertPath: '', Image: 'machine-host:bookworm', Network: 'machine',
        CPUs: 0, Memory: 0, PublishSSH: false,
      });
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
    const flag = docker.flags.find((f) => f.name === 'docker-host');
    expect(flag).toMatchObject({ default: DEFAULT_DOCKER_HOST, env: 'MACHINE_DOCKER_HOST' });
    expect(docker.flags.map((f) => f.name)).toEqual(expect.arrayContaining(['docker-image', 'docker-network', 'docker-cpus', 'docker-memory', 'docker-publish-ssh']));
  });

  it('reads every flag', () => {
    expect(
      parseDockerFlags({ 'docker-host': 'tcp://10.0.0.5:2375', 'docker-image': 'my/host:1', 'docker-network': 'lab_1', 'docker-cpus': '1.5', 'docker-memory': 2048, 'docker-publish-ssh': true }),
    ).toEqual({ DockerHost: 'tcp://10.0.0.5:2375', DockerCertPath: '', Image: 'my/host:1', Network: 'lab_1', CPUs: 1.5, Memory: 2048, PublishSSH: true });
  });

  it.each([
    [{ 'docker-memory': '2g' }, '--docker-memory takes megabytes as a whole number such as 2048, not "2g"'],
    [{ 'docker-memory': -5 }, '--docker-memory takes megabytes as a whole number such as 2048, not "-5"'],
    [{ 'docker-memory': 1.5 }, '--docker-memory takes megabytes as a whole number such as 2048, not "1.5"'],
    [{ 'docker-memory': 32 }, '--docker-memory 32 is too little for systemd, sshd and dockerd: give at least 64 (MB), or 0 for no limit'],
    [{ 'docker-cpus': 'two' }, '--docker-cpus takes a number of CPUs such as 1 or 1.5, not "two"'],
    [{ 'docker-cpus': '-1' }, '--docker-cpus takes a number of CPUs such as 1 or 1.5, not "-1"'],
    [{ 'docker-cpus': '0.001' }, '--docker-cpus takes a number of CPUs such as 1 or 1.5, not "0.001"'],
    [{ 'docker-host': 'ftp://x' }, 'Unsupported --docker-host "ftp://x": unknown scheme; use unix:///path/to/docker.sock or tcp://HOST:PORT'],
    [{ 'docker-host': 'unix://docker.sock' }, 'Unsupported --docker-host "unix://docker.sock": the socket path must be absolute; use unix:///path/to/docker.sock or tcp://HOST:PORT'],
    [{ 'docker-host': 'tcp://host:2375/path' }, 'Unsupported --docker-host "tcp://host:2375/path": not a host:port; use unix:///path/to/docker.sock or tcp://HOST:PORT'],
    [{ 'docker-cert-path': '/certs' }, 'Unsupported --docker-host "unix:///var/run/docker.sock": --docker-cert-path is for tcp:// engines only; use unix:///path/to/docker.sock or tcp://HOST:PORT'],
    [{ 'docker-network': 'host' }, '--docker-network host gives the machine no address of its own: use a bridge network'],
    [{ 'docker-network': '-x' }, '--docker-network "-x" is not a valid network name (letters, digits, _ . -)'],
    [{ 'docker-image': 'a b' }, '--docker-image "a b" is not an image reference'],
  ])('rejects %j', (flags, message) => {
    expect(() => parseDockerFlags(flags)).toThrow(UsageError);
    expect(() => parseDockerFlags(flags)).toThrow(message);
  });

  it('checks a TLS cert directory before anything is made', async () => {
    const certs = await mkdtemp(join(work, 'certs-'));
    await writeFile(join(certs, 'ca.pem'), 'x');
    expect(() => parseDockerFlags({ 'docker-host': 'tcp://10.0.0.5:2376', 'docker-cert-path': certs })).toThrow(
      `--docker-cert-path "${certs}" lacks cert.pem, key.pem: point it at the directory holding the engine's client certificates`,
    );
    await writeFile(join(certs, 'cert.pem'), 'x');
    await writeFile(join(certs, 'key.pem'), 'x');
    expect(parseDockerFlags({ 'docker-host': 'tcp://10.0.0.5:2376', 'docker-cert-path': certs }).DockerCertPath).toBe(certs);
  });

  it('parses engine addresses as the docker CLI does', () => {
    expect(parseDockerHost('unix:///run/docker.sock')).toEqual({ kind: 'unix', socketPath: '/run/docker.sock' });
    expect(parseDockerHost('tcp://10.0.0.5')).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 2375, tls: false });
    expect(parseDockerHost('tcp://10.0.0.5', '/certs')).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 2376, tls: true });
    expect(parseDockerHost('tcp://[::1]:2380')).toEqual({ kind: 'tcp', host: '::1', port: 2380, tls: false });
  });

  it('names the image build command that fits the flags', () => {
    expect(imageBuildCommand({ dockerHost: DEFAULT_DOCKER_HOST, image: 'machine-host:bookworm' })).toMatch(/ image build docker$/);
    expect(imageBuildCommand({ dockerHost: 'unix:///x.sock', image: 'machine-host:bookworm-engine' })).toMatch(/ image build docker --docker-host unix:\/\/\/x\.sock --engine$/);
    expect(imageBuildCommand({ dockerHost: DEFAULT_DOCKER_HOST, image: 'mine:1' })).toMatch(/ image build docker --docker-image mine:1$/);
    expect(imageBuildCommand({ dockerHost: 'tcp://10.0.0.5:2376', image: 'machine-host:bookworm', certPath: '/c' })).toMatch(
      /^DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=\/c \S+ image build docker --docker-host tcp:\/\/10\.0\.0\.5:2376$/,
    );
  });

  it('refuses bad flags through the driver too', async () => {
    const d = docker.newDriver(ctx());
    expect(() => d.setConfigFromFlags({ 'docker-memory': 'lots' })).toThrow(UsageError);
  });
});

describe('docker driver: fixed machine addresses', () => {
  const plan = { subnet: '172.30.0.0/24', ipRange: '172.30.0.128/25', gateway: '172.30.0.1' };
  it('splits a subnet: machines below, everything else above', () => {
    expect(upperHalf('172.30.0.0/24')).toBe('172.30.0.128/25');
    expect(upperHalf('172.18.0.0/16')).toBe('172.18.128.0/17');
    expect(upperHalf('10.0.0.0/30')).toBeUndefined();
    expect(parseCidr('172.30.0.77/24')).toEqual({ ip: '172.30.0.77', prefix: 24, base: parseCidr('172.30.0.0/24')!.base, size: 256 });
    for (const bad of ['172.30.0.0/33', '256.1.1.1/24', '1.2.3/24', '1.2.3.4/24/1', 'x']) expect(parseCidr(bad)).toBeUndefined();
  });

  it('picks the lowest free address outside the gateway and the dynamic range', () => {
    expect(firstFree(plan, new Set())).toBe('172.30.0.2');
    expect(firstFree(plan, new Set(['172.30.0.2', '172.30.0.3']))).toBe('172.30.0.4');
    expect(firstFree({ ...plan, gateway: '172.30.0.2' }, new Set())).toBe('172.30.0.1');
    const full = new Set(Array.from({ length: 126 }, (_, i) => `172.30.0.${i + 2}`));
    expect(firstFree(plan, full)).toBeUndefined();
  });

  it('fixes addresses only on networks with room set aside for them', () => {
    const net = (Config: Array<Record<string, string>>) => ({ Id: 'n', Name: 'machine', Driver: 'bridge', IPAM: { Config } });
    expect(staticPlan(net([{ Subnet: '172.18.0.0/16', Gateway: '172.18.0.1' }]))).toBeUndefined();
    expect(staticPlan(net([{ Subnet: '172.30.0.0/24', IPRange: '172.30.0.128/25' }]))).toEqual(plan);
    expect(staticPlan(net([{ Subnet: 'fd00::/64', IPRange: 'fd00::/80' }]))).toBeUndefined();
  });
});

describe('docker driver: engine connection failures (real sockets)', () => {
  it('names the socket, the reason and the fix when nothing is there', async () => {
    const sock = join(work, 'nothing.sock');
    const d = docker.newDriver(ctx('m1'));
    d.setConfigFromFlags({ 'docker-host': `unix://${sock}` });
    const err = await d.preCreateCheck().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineUnreachableError);
    expect((err as Error).message).toBe(
      `Cannot reach the Docker engine at unix://${sock}: connect ENOENT ${sock} (is dockerd running? pass --docker-host to use another engine)`,
    );
  });

  it('says the same for a socket nobody listens on, and points a saved machine at its engine', async () => {
    const file = join(work, 'stale.sock');
    await writeFile(file, '');
    const saved = { ...docker.newDriver(ctx('old')).config(), DockerHost: `unix://${file}`, ContainerID: 'abc' } as DockerSettings;
    const d = docker.newDriver(ctx('old'), saved);
    const err = await d.getState().catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `Cannot reach the Docker engine at unix://${file}: connect ECONNREFUSED ${file} (is dockerd running? machine "old" lives on that engine)`,
    );
  });

  it('reports a refused tcp port', async () => {
    const server = createNetServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    const err = await new EngineApi(`tcp://127.0.0.1:${port}`).ping().catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `Cannot reach the Docker engine at tcp://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} (is dockerd running? pass --docker-host to use another engine)`,
    );
  });
});

/** A stand-in engine on a unix socket: answers from a table and records what it was asked. */
class FakeEngine {
  readonly requests: Array<{ method: string; url: string; type?: string; body: Buffer }> = [];
  readonly routes = new Map<string, (body: Buffer) => [number, unknown]>();
  private server?: Server;
  constructor(readonly socket: string) {}

  route(method: string, path: string, answer: [number, unknown] | ((body: Buffer) => [number, unknown])): void {
    this.routes.set(`${method} ${path}`, typeof answer === 'function' ? answer : () => answer);
  }

  async start(): Promise<void> {
    this.server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', ...(req.headers['content-type'] ? { type: req.headers['content-type'] } : {}), body });
        const path = (req.url ?? '').replace(/^\/v1\.41/, '');
        const handler = this.routes.get(`${req.method} ${path}`);
        const [status, data] = handler ? handler(body) : [404, { message: `no route ${req.method} ${path}` }];
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(data === undefined ? '' : JSON.stringify(data));
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.socket, r));
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }

  asked(): string[] {
    return this.requests.map((r) => `${r.method} ${r.url}`);
  }
}

describe('docker driver against a stand-in engine', () => {
  let engine: FakeEngine;
  beforeAll(async () => {
    engine = new FakeEngine(join(work, 'fake.sock'));
    await engine.start();
  });
  afterAll(() => engine.stop());

  const running = (status: string, extra: Record<string, unknown> = {}) => ({
    Id: 'c1',
    Name: '/m1',
    Config: { Labels: { 'io.machine.name': 'm1', 'io.machine.store': '/store' } },
    State: { Status: status, Running: status === 'running', Pid: 1 },
    NetworkSettings: { Networks: { machine: { IPAddress: status === 'running' ? '172.30.0.2' : '' } }, Ports: {}, ...extra },
  });
  const savedDriver = (lines: string[] = [], extra: Record<string, unknown> = {}) => {
    const base = docker.newDriver(ctx('m1')).config();
    return docker.newDriver(ctx('m1', lines), { ...base, DockerHost: `unix://${engine.socket}`, ContainerID: 'c1', ...extra } as DockerSettings);
  };

  it('prefixes the API version, logs every call, and carries the engine message', async () => {
    engine.requests.length = 0;
    engine.route('POST', '/containers/c1/start', [500, { message: 'OCI runtime create failed:\n  cgroup trouble' }]);
    const lines: string[] = [];
    const err = await savedDriver(lines).start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineApiError);
    expect(err).toMatchObject({ status: 500, engineMessage: 'OCI runtime create failed: cgroup trouble', method: 'POST', path: '/containers/c1/start' });
    expect((err as Error).message).toBe(`Docker engine at unix://${engine.socket}: OCI runtime create failed: cgroup trouble`);
    expect(engine.asked()).toEqual(['POST /v1.41/containers/c1/start']);
    expect(lines).toEqual([expect.stringMatching(/^docker-api: POST \/containers\/c1\/start -> 500 \(\d+ ms\)$/)]);
  });

  it('maps lifecycle calls: stop waits for systemd, kill and start are idempotent, a vanished container says what to do', async () => {
    engine.requests.length = 0;
    engine.route('POST', '/containers/c1/stop?t=20', [304, undefined]);
    engine.route('POST', '/containers/c1/kill?signal=SIGKILL', [409, { message: 'Container c1 is not running' }]);
    engine.route('POST', '/containers/c1/start', [304, undefined]);
    engine.route('POST', '/containers/c1/restart?t=20', [404, { message: 'No such container: c1' }]);
    const d = savedDriver();
    await d.stop();
    await d.kill();
    await d.start();
    await expect(d.restart()).rejects.toThrow(/^The container of machine "m1" is gone from unix:\/\/.*fake\.sock: remove the machine with ".* rm m1"$/);
    expect(engine.asked()).toEqual([
      'POST /v1.41/containers/c1/stop?t=20',
      'POST /v1.41/containers/c1/kill?signal=SIGKILL',
      'POST /v1.41/containers/c1/start',
      'POST /v1.41/containers/c1/restart?t=20',
    ]);
  });

  it('reads addresses from the engine, and refuses a URL for a stopped machine', async () => {
    engine.route('GET', '/containers/c1/json', [200, running('running')]);
    const d = savedDriver();
    expect(await d.getState()).toBe('Running');
    expect(await d.getURL()).toBe('tcp://172.30.0.2:2376');
    expect(await d.getSSHHostname()).toBe('172.30.0.2');
    expect(await d.getSSHPort()).toBe(22);
    expect(await d.getPrivateIP!()).toBe('172.30.0.2');

    const ports = { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '40022' }], '2376/tcp': [{ HostIp: '127.0.0.1', HostPort: '42376' }] };
    engine.route('GET', '/containers/c1/json', [200, running('running', { Ports: ports })]);
    const p = savedDriver([], { PublishSSH: true });
    expect(await p.getURL()).toBe('tcp://127.0.0.1:42376');
    expect(await p.getSSHHostname()).toBe('127.0.0.1');
    expect(await p.getSSHPort()).toBe(40022);
    expect(await p.getIP()).toBe('172.30.0.2');
    expect(p.config()).toMatchObject({ SSHPort: 40022, PublishedSSHPort: 40022, PublishedEnginePort: 42376 });

    engine.route('GET', '/containers/c1/json', [200, running('exited')]);
    expect(await d.getState()).toBe('Stopped');
    await expect(d.getURL()).rejects.toBeInstanceOf(HostNotRunningError);
    engine.route('GET', '/containers/c1/json', [404, { message: 'No such container: c1' }]);
    expect(await d.getState()).toBe('Error');
  });

  it('removes a half-made machine: by id, or by name only when the labels are its own', async () => {
    engine.requests.length = 0;
    engine.route('DELETE', '/containers/c1?force=1&v=1', [404, { message: 'No such container' }]);
    engine.route('GET', '/volumes/machine-m1-docker', [404, { message: 'no such volume' }]);
    await savedDriver().remove();
    expect(engine.asked()).toEqual(['DELETE /v1.41/containers/c1?force=1&v=1', 'GET /v1.41/volumes/machine-m1-docker']);

    // No id recorded, and a container of that name belongs to someone else: left alone.
    engine.requests.length = 0;
    const foreign = { ...running('running'), Id: 'other', Config: { Labels: { 'io.machine.name': 'm1', 'io.machine.store': '/elsewhere' } } };
    engine.route('GET', '/containers/m1/json', [200, foreign]);
    engine.route('GET', '/volumes/machine-m1-docker', [200, { Name: 'machine-m1-docker', Labels: null }]);
    await savedDriver([], { ContainerID: '' }).remove();
    expect(engine.asked()).toEqual(['GET /v1.41/containers/m1/json', 'GET /v1.41/volumes/machine-m1-docker']);

    // Its own, with the volume still busy for a moment after the container went.
    engine.requests.length = 0;
    engine.route('GET', '/containers/m1/json', [200, { ...foreign, Id: 'mine', Config: { Labels: { 'io.machine.name': 'm1', 'io.machine.store': '/store' } } }]);
    engine.route('DELETE', '/containers/mine?force=1&v=1', [204, undefined]);
    engine.route('GET', '/volumes/machine-m1-docker', [200, { Name: 'machine-m1-docker', Labels: { 'io.machine.name': 'm1', 'io.machine.store': '/store' } }]);
    let busy = 2;
    engine.route('DELETE', '/volumes/machine-m1-docker', () => (busy-- > 0 ? [409, { message: 'volume is in use' }] : [204, undefined]));
    await savedDriver([], { ContainerID: '' }).remove();
    expect(engine.asked()).toEqual([
      'GET /v1.41/containers/m1/json',
      'DELETE /v1.41/containers/mine?force=1&v=1',
      'GET /v1.41/volumes/machine-m1-docker',
      'DELETE /v1.41/volumes/machine-m1-docker',
      'DELETE /v1.41/volumes/machine-m1-docker',
      'DELETE /v1.41/volumes/machine-m1-docker',
    ]);
  });

  it('says to pass certificates when plain HTTP meets a TLS engine', async () => {
    engine.route('GET', '/_ping', [400, 'Client sent an HTTP request to an HTTPS server.\n']);
    const err = await new EngineApi(`unix://${engine.socket}`).ping().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineUnreachableError);
    expect((err as Error).message).toBe(
      `Cannot reach the Docker engine at unix://${engine.socket}: the engine speaks TLS (pass --docker-cert-path DIR holding ca.pem, cert.pem and key.pem)`,
    );
  });

  it('never starts a stranger: without a recorded id only a container with its labels counts', async () => {
    engine.requests.length = 0;
    const stranger = { ...running('exited'), Id: 'other', Config: { Labels: {} } };
    engine.route('GET', '/containers/m1/json', [200, stranger]);
    const d = savedDriver([], { ContainerID: '' });
    await expect(d.start()).rejects.toThrow(/^The container of machine "m1" is gone from/);
    expect(await d.getState()).toBe('Error');
    expect(engine.asked()).toEqual(['GET /v1.41/containers/m1/json', 'GET /v1.41/containers/m1/json']);
  });

  it('uploads a tar with its content type', async () => {
    engine.requests.length = 0;
    engine.route('PUT', '/containers/c1/archive?path=%2Froot', [200, undefined]);
    const tar = authorizedKeysArchive('ssh-ed25519 AAAA k');
    await new EngineApi(`unix://${engine.socket}`).putArchive('c1', '/root', tar);
    expect(engine.requests[0]).toMatchObject({ method: 'PUT', type: 'application/x-tar' });
    expect(engine.requests[0]!.body.equals(tar)).toBe(true);
  });
});
