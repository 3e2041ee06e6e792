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
  const live = (e: Ec2Endpoint) => e.live();

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
    // Port 22 again is no duplicate rule (#12, defect 10).
    const r = await machine(store, ['create', ...ec2Flags(url), '--amazonec2-open-port', '22', '--amazonec2-open-port', '8080', 'aws1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(endpoint.calls.slice(0, 3)).toEqual(['DescribeImages', 'DescribeImages', 'DescribeImages']);
    const inst = live(endpoint)[0]!;
    // Canonical's newest, not a newer look-alike from another account.
    expect(inst.imageId).toBe('ami-0fedcba9876543210');
    expect(inst.clientToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(inst.tags).toMatchObject({ Name: 'aws1', 'machine:created-by': 'machine' });
    const info = await withEnv('aws1', "docker info --format '{{.Name}}'");
    expect(info.stdout.trim()).toBe('aws1');
    const cfg = readFileSync(join(store, 'machines', 'aws1', 'config.json'), 'utf8');
    expect(cfg).not.toContain('not-a-real-secret');
    expect(cfg).not.toContain(ACCESS);
    expect(statSync(join(store, 'machines', 'aws1', 'aws-credentials.json')).mode & 0o777).toBe(0o600);
    const sg = [...endpoint.groups.values()].find((g) => g.name === 'docker-machine')!;
    expect(sg.rules.map((x) => `${x.proto}/${x.from}`)).toEqual(['tcp/22', 'tcp/2376', 'tcp/2377', 'tcp/7946', 'udp/7946', 'udp/4789', 'tcp/8080']);
    // Everything it made carries this create's tag, for rm to find after a crash.
    const createId = JSON.parse(cfg).Driver.CreateId;
    expect(inst.tags['machine:create-id']).toBe(createId);
    expect(endpoint.keyPairs.get('aws1')?.tags['machine:create-id']).toBe(createId);
    expect(sg.tags['machine:create-id']).toBe(createId);
  });

  it('--amazonec2-private-address-only: no public address, and its group lets in the VPC only (#12, defect 2)', async () => {
    const r = await machine(store, ['create', ...ec2Flags(url), '--amazonec2-private-address-only', '--amazonec2-security-group', 'private-only', 'awspriv']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const inst = live(endpoint).find((i) => i.tags['Name'] === 'awspriv')!;
    expect(inst.associatePublicIp).toBe(false);
    expect(inst.publicIp).toBe('');
    const sg = [...endpoint.groups.values()].find((g) => g.name === 'private-only')!;
    expect(sg.rules.filter((x) => x.cidr).map((x) => `${x.proto}/${x.from} ${x.cidr}`)).toEqual(['tcp/22 172.31.0.0/16', 'tcp/2376 172.31.0.0/16']);
    // Reached at its private address.
    expect((await machine(store, ['ip', 'awspriv'])).stdout.trim()).toBe(inst.privateIp);
    expect((await withEnv('awspriv', "docker info --format '{{.Name}}'")).stdout.trim()).toBe('awspriv');
  });

  it('ls asks the API once for all machines of a region, and a running machine whose SSH is down still reads Running (#12, defect 7)', async () => {
    const aws1 = live(endpoint).find((i) => i.tags['Name'] === 'aws1')!;
    await hosts.get(aws1.id)!.exec('systemctl stop ssh.socket ssh.service 2>/dev/null; true');
    expect((await sh('bash', ['-c', `exec 3<>/dev/tcp/${hosts.get(aws1.id)!.ip}/22`])).code).not.toBe(0);
    const before = endpoint.calls.length;
    const ls = await machine(store, ['ls', '--format', '{{.Name}} {{.State}}']);
    expect(ls.stdout.trim().split('\n').sort()).toEqual(['aws1 Running', 'awspriv Running']);
    expect(endpoint.calls.slice(before)).toEqual(['DescribeInstances']);
    expect((await machine(store, ['status', 'aws1'])).stdout.trim()).toBe('Running');
    await hosts.get(aws1.id)!.exec('systemctl start ssh.socket ssh.service');
    expect((await machine(store, ['rm', '-y', 'awspriv'])).code).toBe(0);
  });

  it('a subnet that maps no public addresses (a custom VPC) still gets one, as Docker Machine asked (#12, defect 6)', async () => {
    const r = await machine(store, ['create', ...ec2Flags(url), '--amazonec2-subnet-id', endpoint.privateSubnetId, 'awsvpc']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const inst = live(endpoint).find((i) => i.tags['Name'] === 'awsvpc')!;
    expect(inst.vpcId).toBe(endpoint.customVpcId);
    expect(inst.associatePublicIp).toBe(true);
    // The group is made in the subnet's VPC, found from the subnet alone.
    expect([...endpoint.groups.values()].filter((g) => g.name === 'docker-machine').map((g) => g.vpcId).sort()).toEqual([endpoint.customVpcId, endpoint.vpcId].sort());
    expect((await withEnv('awsvpc', "docker info --format '{{.Name}}'")).stdout.trim()).toBe('awsvpc');
    expect((await machine(store, ['rm', '-y', 'awsvpc'])).code).toBe(0);
  });

  it('env, config, url, ip and inspect never load the AWS SDK', async () => {
    const trap = join(store, 'trap-sdk.cjs');
    writeFileSync(
      trap,
      `const M = require('module'); const orig = M._load; M._load = function (req, ...rest) { if (String(req).includes('@aws-sdk')) { require('fs').writeFileSync(${JSON.stringify(join(store, 'sdk-loaded'))}, String(req)); } return orig.call(this, req, ...rest); };`,
    );
    // ls asks the API, once per region (defect 7 of #12), so it is not on this list.
    for (const args of [['env', 'aws1'], ['config', 'aws1'], ['url', 'aws1'], ['ip', 'aws1'], ['inspect', 'aws1']]) {
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
    const publicIp = (await machine(store, ['ip', 'aws1'])).stdout.trim();
    expect((await machine(store, ['stop', 'aws1'])).code).toBe(0);
    expect(await status()).toBe('Stopped');
    expect((await machine(store, ['ls', '--format', '{{.State}} {{.URL}}'])).stdout.trim()).toBe('Stopped');
    // A stopped instance has no address: AWS released it, and may give it to someone else (#12, defect 5).
    for (const cmd of ['ip', 'url', 'env']) {
      const r = await machine(store, [cmd, 'aws1']);
      expect(r.code, cmd).toBe(1);
      expect(r.stdout, cmd).toBe('');
      expect(r.stderr.trim(), cmd).toBe('Host is not running');
    }
    const inspect = JSON.parse((await machine(store, ['inspect', 'aws1'])).stdout);
    // The public address is gone; the private one stays the instance's in its VPC, as on AWS.
    expect(inspect.Driver.IPAddress).toBe('');
    expect(publicIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect((await machine(store, ['start', 'aws1'])).code).toBe(0);
    expect(await status()).toBe('Running');
    expect((await machine(store, ['ip', 'aws1'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
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

  it("an instance terminated while starting fails at once with AWS's reason, and leaves nothing (#12, defect 9)", async () => {
    const e = new Ec2Endpoint({
      accessKeys: [ACCESS],
      backend: hostBackend(dockerHost, image, hosts),
      faults: { terminateOnLaunch: { code: 'Client.VolumeLimitExceeded', message: 'Client.VolumeLimitExceeded: Volume limit exceeded' } },
    });
    const u = await e.listen();
    const r = await machine(store, ['create', ...ec2Flags(u), 'awsterm']);
    expect(r.code).toBe(1);
    const id = [...e.instances.keys()][0]!;
    expect(r.stderr.trim()).toBe(`Instance ${id} was terminated while starting: Client.VolumeLimitExceeded: Volume limit exceeded`);
    // Not the ten-minute wait for "running".
    expect(r.ms).toBeLessThan(60_000);
    expect(e.live()).toEqual([]);
    expect(e.keyPairs.size).toBe(0);
    expect(e.groups.size).toBe(0);
    expect((await machine(store, ['ls', '-q'])).stdout).not.toContain('awsterm');
    await e.close();
  });

  it('checks what Docker Machine checked before anything is made (#12, defect 10)', async () => {
    const [e, u] = await endpointWith();
    const { EC2Client, ImportKeyPairCommand } = await import('@aws-sdk/client-ec2');
    const sdkClient = new EC2Client({ endpoint: u, region: 'us-east-1', credentials: { accessKeyId: ACCESS, secretAccessKey: 'x' } });
    await sdkClient.send(new ImportKeyPairCommand({ KeyName: 'awsdup', PublicKeyMaterial: Buffer.from('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey someone@else') }));
    const dir = await tempStore('machine-e2e-ec2-pre-');
    const key = join(dir, 'key');
    await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const cases: Array<[string[], string, number, Record<string, string>?]> = [
      [['--amazonec2-open-port', 'http'], '--amazonec2-open-port "http" is not a port: give PORT, PORT/tcp or PORT/udp with PORT from 1 to 65535', 1],
      [['--amazonec2-vpc-id', e.customVpcId, '--amazonec2-subnet-id', e.subnetId], `SubnetId: ${e.subnetId} does not belong to VpcId: ${e.customVpcId}`, 3],
      [['--amazonec2-zone', 'c'], `unable to find a subnet in the zone: us-east-1c (VPC ${e.vpcId}): pick another --amazonec2-zone or pass --amazonec2-subnet-id`, 3],
      [['--amazonec2-ami', 'ami-0ffffffffffffff00'], 'AMI ami-0ffffffffffffff00 not found in region us-east-1: check --amazonec2-ami', 3],
      [['--amazonec2-security-group', 'nosuch'], `Security group "nosuch" does not exist in ${e.vpcId}, and --amazonec2-security-group-readonly forbids making it`, 3, { AWS_SECURITY_GROUP_READONLY: '1' }],
      [['--amazonec2-keypair-name', 'nosuch', '--amazonec2-ssh-keypath', key], 'There is no keypair with the name nosuch. Please verify the key name provided.', 3],
    ];
    for (const [flags, message, code, env] of cases) {
      const r = await machine(store, ['create', ...ec2Flags(u), ...flags, 'awspre'], env ? { env } : {});
      expect(r.stderr.trim(), flags.join(' ')).toBe(message);
      expect(r.code, flags.join(' ')).toBe(code);
    }
    const dup = await machine(store, ['create', ...ec2Flags(u), 'awsdup']);
    expect(dup.stderr.trim()).toBe('There is already a keypair with the name awsdup.  Please either remove that keypair or use a different machine name.');
    expect(dup.code).toBe(3);
    // Nothing was made, and no record was left.
    expect(e.calls.filter((c) => /^(Create|Import|Run|Authorize)/.test(c))).toEqual(['ImportKeyPair']);
    expect(e.keyPairs.get('awsdup')?.publicKey).toContain('someone@else');
    expect((await machine(store, ['ls', '-q'])).stdout).not.toMatch(/awspre|awsdup/);
    await e.close();
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
