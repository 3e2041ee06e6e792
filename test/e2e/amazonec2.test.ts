import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Ec2Endpoint, type Faults, type InstanceBackend } from '../ec2/server.js';
import { createTestHost, type TestHost } from '../harness/hosts.js';
import { sh } from '../harness/exec.js';
import { bash, machine, machineCmd, tempStore } from '../helpers/cli.js';

const skipReason = inject('e2eSkipReason');
const ACCESS = 'AKIDMACHINETEST';

/** Each running instance is a real container host answering SSH with the imported key. */
function hostBackend(dockerHost: string, image: string, hosts: Map<string, TestHost>, opts: { sshDead?: boolean } = {}): InstanceBackend {
  const addr = (h: TestHost) => ({ publicIp: h.ip, privateIp: h.ip });
  return {
    async launch({ id, publicKey }) {
      const h = await createTestHost({ dockerHost, image, name: `ec2-${id}`, publicKey });
      hosts.set(id, h);
      if (opts.sshDead) await h.exec('systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl mask --now ssh >/dev/null 2>&1; true');
      return addr(h);
    },
    async stop(id) {
      await sh('docker', ['-H', dockerHost, 'kill', hosts.get(id)!.id]);
    },
    async start(id) {
      const h = hosts.get(id)!;
      await sh('docker', ['-H', dockerHost, 'start', h.id]);
      const ip = (await sh('docker', ['-H', dockerHost, 'inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', h.id])).stdout.trim();
      for (let i = 0; i < 100 && (await sh('bash', ['-c', `exec 3<>/dev/tcp/${ip}/22`])).code !== 0; i++) await new Promise((r) => setTimeout(r, 200));
      return { publicIp: ip, privateIp: ip };
    },
    async terminate(id) {
      await hosts.get(id)?.remove();
      hosts.delete(id);
    },
  };
}

describe.skipIf(skipReason)(`amazonec2 driver against a local EC2 endpoint${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const dockerHost = inject('dockerHost');
  const image = inject('hostImage');
  const hosts = new Map<string, TestHost>();
  let store: string;
  let endpoint: Ec2Endpoint;
  let url: string;
  const ec2Flags = (u: string, key = ACCESS) => [
    '-d', 'amazonec2', '--amazonec2-endpoint', u, '--amazonec2-access-key', key, '--amazonec2-secret-key', 'not-a-real-secret',
    '--amazonec2-ssh-user', 'root', '--amazonec2-retries', '4', '--engine-install-url', 'distro',
  ];
  const withEnv = (name: string, script: string) => bash(`set -e; eval "$(${machineCmd(store)} env ${name})"; ${script}`);
  const live = (e: Ec2Endpoint) => [...e.instances.values()].filter((i) => i.state !== 'terminated');

  async function endpointWith(faults?: Faults, sshDead = false): Promise<[Ec2Endpoint, string]> {
    const e = new Ec2Endpoint({ accessKeys: [ACCESS], backend: hostBackend(dockerHost, image, hosts, { sshDead }), ...(faults ? { faults } : {}) });
    return [e, await e.listen()];
  }

  beforeAll(async () => {
    store = join(await tempStore('machine-e2e-ec2-'), 'store');
    [endpoint, url] = await endpointWith({ throttleFirst: 2 });
  });

  afterAll(async () => {
    await endpoint?.close();
    for (const h of hosts.values()) await h.remove();
  });

  it('creates an instance through throttling, and its TLS engine answers through env', async () => {
    const r = await machine(store, ['create', ...ec2Flags(url), 'aws1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(endpoint.calls.slice(0, 3)).toEqual(['DescribeImages', 'DescribeImages', 'DescribeImages']);
    const inst = live(endpoint)[0]!;
    expect(inst.imageId).toBe('ami-0fedcba9876543210');
    expect(inst.tags).toMatchObject({ Name: 'aws1', 'machine:created-by': 'machine' });
    const info = await withEnv('aws1', "docker info --format '{{.Name}}'");
    expect(info.stdout.trim()).toBe('aws1');
    const cfg = readFileSync(join(store, 'machines', 'aws1', 'config.json'), 'utf8');
    expect(cfg).not.toContain('not-a-real-secret');
    expect(cfg).not.toContain(ACCESS);
    expect(statSync(join(store, 'machines', 'aws1', 'aws-credentials.json')).mode & 0o777).toBe(0o600);
    const sg = [...endpoint.groups.values()].find((g) => g.name === 'docker-machine')!;
    expect(sg.rules.map((x) => `${x.proto}/${x.from}`)).toEqual(['tcp/22', 'tcp/2376', 'tcp/2377', 'tcp/7946', 'udp/7946', 'udp/4789']);
  });

  it('env, ls, config and url never load the AWS SDK', async () => {
    const trap = join(store, 'trap-sdk.cjs');
    writeFileSync(
      trap,
      `const M = require('module'); const orig = M._load; M._load = function (req, ...rest) { if (String(req).includes('@aws-sdk')) { require('fs').writeFileSync(${JSON.stringify(join(store, 'sdk-loaded'))}, String(req)); } return orig.call(this, req, ...rest); };`,
    );
    for (const args of [['env', 'aws1'], ['ls'], ['config', 'aws1'], ['url', 'aws1']]) {
      const r = await machine(store, args, { env: { NODE_OPTIONS: `--require ${trap}` } });
      expect(r.code).toBe(0);
    }
    expect(existsSync(join(store, 'sdk-loaded'))).toBe(false);
    // The trap works: a command that needs the API does load it.
    await machine(store, ['status', 'aws1'], { env: { NODE_OPTIONS: `--require ${trap}` } });
    expect(existsSync(join(store, 'sdk-loaded'))).toBe(true);
  });

  it('stop, start, restart, kill and rm follow the API; rm leaves no instance, key pair or group', async () => {
    const status = async () => (await machine(store, ['status', 'aws1'])).stdout.trim();
    expect((await machine(store, ['stop', 'aws1'])).code).toBe(0);
    expect(await status()).toBe('Stopped');
    expect((await machine(store, ['ls', '--format', '{{.State}}'])).stdout.trim()).toBe('Stopped');
    expect((await machine(store, ['start', 'aws1'])).code).toBe(0);
    expect(await status()).toBe('Running');
    expect((await machine(store, ['restart', 'aws1'])).code).toBe(0);
    expect(await status()).toBe('Running');
    expect((await machine(store, ['kill', 'aws1'])).code).toBe(0);
    expect(await status()).toBe('Stopped');
    const rm = await machine(store, ['rm', '-y', 'aws1']);
    expect(rm.stderr).toBe('');
    expect(rm.stdout).toContain('Successfully removed aws1');
    expect(live(endpoint)).toEqual([]);
    expect(endpoint.keyPairs.size).toBe(0);
    expect(endpoint.groups.size).toBe(0);
  });

  it("uses the user's own key given by --amazonec2-ssh-keypath without ever writing to it (#12)", async () => {
    const dir = await tempStore('machine-e2e-ec2-key-');
    const key = join(dir, 'my_key');
    expect((await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'me@laptop', '-f', key])).code).toBe(0);
    const before = [readFileSync(key), readFileSync(`${key}.pub`)];
    // Docker Machine's HOST:PORT form of --amazonec2-endpoint works too (#12, defect 8).
    const hostPort = url.replace(/^http:\/\//, '').replace(/\/$/, '');
    const flags = ec2Flags(url).map((a) => (a === url ? hostPort : a));
    const r = await machine(store, ['create', ...flags, '--amazonec2-insecure-transport', '--amazonec2-ssh-keypath', key, 'awskey']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect([readFileSync(key), readFileSync(`${key}.pub`)]).toEqual(before);
    // Its public half is what was imported, and the machine answers with it.
    expect(endpoint.keyPairs.get('awskey')?.publicKey.trim()).toBe(before[1]!.toString().trim());
    expect((await withEnv('awskey', "docker info --format '{{.Name}}'")).stdout.trim()).toBe('awskey');
    expect((await machine(store, ['ssh', 'awskey', 'echo', 'ok'])).stdout.trim()).toBe('ok');
    expect((await machine(store, ['rm', '-y', 'awskey'])).code).toBe(0);
    expect([readFileSync(key), readFileSync(`${key}.pub`)]).toEqual(before);
    expect(endpoint.keyPairs.has('awskey')).toBe(false);
  });

  it('capacity errors, unreachable instances and bad credentials fail clearly and leave nothing', async () => {
    const [noCap, noCapUrl] = await endpointWith({ noCapacity: true });
    const r1 = await machine(store, ['create', ...ec2Flags(noCapUrl), 'aws2']);
    expect(r1.code).toBe(1);
    expect(r1.stderr.trim()).toMatch(/^AWS RunInstances failed \(InsufficientInstanceCapacity\): .*try another --amazonec2-zone/);
    expect(noCap.keyPairs.size).toBe(0);
    expect(live(noCap)).toEqual([]);
    await noCap.close();

    const [dead, deadUrl] = await endpointWith(undefined, true);
    const t = Date.now();
    const r2 = await machine(store, ['create', ...ec2Flags(deadUrl), '--wait-timeout', '15', 'aws3']);
    expect(r2.code).toBe(1);
    expect(Date.now() - t).toBeLessThan(90_000);
    expect(r2.stderr).toMatch(/over SSH within 15 s/);
    expect(live(dead)).toEqual([]);
    expect(dead.keyPairs.size).toBe(0);
    await dead.close();

    const [auth, authUrl] = await endpointWith();
    const r3 = await machine(store, ['create', ...ec2Flags(authUrl, 'AKIDWRONG'), 'aws4']);
    expect(r3.code).toBe(3);
    expect(r3.stderr.trim()).toMatch(/^AWS DescribeImages failed \(AuthFailure\): .*check --amazonec2-access-key/);
    expect(auth.instances.size).toBe(0);
    await auth.close();

    expect((await machine(store, ['ls', '-q'])).stdout.trim()).toBe('');
  });
});
