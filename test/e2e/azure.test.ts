import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ArmEndpoint, type Faults, type VmBackend } from '../azure/server.js';
import { createTestHost, type TestHost } from '../harness/hosts.js';
import { sh } from '../harness/exec.js';
import { e2eLabel } from '../harness/dockerd.js';
import { bash, machine, machineCmd, machineInterrupted, tempStore } from '../helpers/cli.js';

// #13: the azure driver through the real Azure SDKs against a local ARM endpoint (HTTPS with
// a test CA, long-running operations), whose VMs are real container hosts. Credentials come
// the way DefaultAzureCredential finds an Azure CLI login: a stand-in `az` on PATH prints a
// test token, so nothing logs in anywhere.

const skipReason = inject('e2eSkipReason');
const SUB = '00000000-1111-2222-3333-444444444444';
const TOKEN = 'machine-test-token';

/** Each VM is a system container answering SSH with the key from the request. */
function hostBackend(dockerHost: string, image: string, hosts: Map<string, TestHost>, opts: { sshDead?: boolean } = {}): VmBackend {
  const ipOf = async (h: TestHost) => (await sh('docker', ['-H', dockerHost, 'inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', h.id])).stdout.trim();
  return {
    async create({ id, publicKeys }) {
      const h = await createTestHost({ dockerHost, image, name: `az-${id.split('/').pop()!.toLowerCase()}-${Math.random().toString(36).slice(2, 6)}`, publicKey: publicKeys[0]! });
      hosts.set(id, h);
      if (opts.sshDead) await h.exec('systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl mask --now ssh >/dev/null 2>&1; true');
      return { ip: h.ip };
    },
    async deallocate(id) {
      const h = hosts.get(id)!;
      await sh('docker', ['-H', dockerHost, 'kill', h.id]);
      // Azure gives a deallocated VM's addresses back; so does this backend: another
      // container takes one at once, and the VM comes back elsewhere (a new certificate's case).
      await sh('docker', ['-H', dockerHost, 'run', '-d', '--rm', '--label', e2eLabel, '--name', `${h.name}-squatter`, '--entrypoint', 'sleep', image, '900']);
    },
    async powerOff(id) {
      await sh('docker', ['-H', dockerHost, 'kill', hosts.get(id)!.id]);
    },
    async start(id) {
      const h = hosts.get(id)!;
      await sh('docker', ['-H', dockerHost, 'start', h.id]);
      const ip = await ipOf(h);
      for (let i = 0; i < 100 && (await sh('bash', ['-c', `exec 3<>/dev/tcp/${ip}/22`])).code !== 0; i++) await new Promise((r) => setTimeout(r, 200));
      return { ip };
    },
    async remove(id) {
      const h = hosts.get(id);
      if (h) await sh('docker', ['-H', dockerHost, 'rm', '-f', `${h.name}-squatter`]);
      await h?.remove();
      hosts.delete(id);
    },
  };
}

/** A stand-in for the Azure CLI: `az account get-access-token` prints a token, or fails as a logged-out CLI does. */
function fakeAz(dir: string, loggedIn: boolean): string {
  mkdirSync(dir, { recursive: true });
  const script = loggedIn
    ? `#!/bin/sh\necho '{"accessToken":"${TOKEN}","expires_on":'$(( $(date +%s) + 3600 ))',"tokenType":"Bearer","subscription":"${SUB}"}'\n`
    : `#!/bin/sh\necho "ERROR: Please run 'az login' to setup account." >&2\nexit 1\n`;
  writeFileSync(join(dir, 'az'), script);
  chmodSync(join(dir, 'az'), 0o755);
  return dir;
}

/** Every file of the store, for "no secret in it". */
function storeText(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out += statSync(p).isDirectory() ? storeText(p) : readFileSync(p, 'latin1');
  }
  return out;
}

describe.skipIf(skipReason)(`azure driver against a local ARM endpoint${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const dockerHost = inject('dockerHost');
  const image = inject('hostImage');
  const hosts = new Map<string, TestHost>();
  const endpoints: ArmEndpoint[] = [];
  let store: string;
  let work: string;
  let endpoint: ArmEndpoint;
  let url: string;
  let env: Record<string, string>;

  async function endpointWith(faults?: Faults, sshDead = false): Promise<[ArmEndpoint, string]> {
    const e = new ArmEndpoint({ token: TOKEN, subscriptionId: SUB, backend: hostBackend(dockerHost, image, hosts, { sshDead }), ...(faults ? { faults } : {}) });
    endpoints.push(e);
    return [e, await e.listen()];
  }
  const flags = (u: string) => [
    '-d', 'azure', '--azure-subscription-id', SUB, '--azure-resource-manager-endpoint', u, '--azure-location', 'westeurope',
    '--azure-ssh-user', 'root', '--engine-install-url', 'distro',
  ];
  const envFor = (e: ArmEndpoint, azDir: string) => ({
    PATH: `${azDir}:${process.env.PATH}`,
    // Only the Azure CLI credential: the rest of DefaultAzureCredential's chain would probe
    // the instance metadata service, which is not loopback.
    AZURE_TOKEN_CREDENTIALS: 'AzureCliCredential',
    NODE_EXTRA_CA_CERTS: e.caFile,
  });
  const vms = (e: ArmEndpoint) => e.list('Microsoft.Compute/virtualMachines').map((r) => r.name).sort();
  const all = (e: ArmEndpoint) => [...e.resources.values()].map((r) => `${r.type}/${r.name}`).sort();
  const withEnv = (name: string, script: string) => bash(`set -e; eval "$(${machineCmd(store)} env ${name})"; ${script}`, env);

  beforeAll(async () => {
    work = await tempStore('machine-e2e-azure-');
    store = join(work, 'store');
    [endpoint, url] = await endpointWith({ throttleFirst: 2, transientFirst: 2 });
    env = envFor(endpoint, fakeAz(join(work, 'az-ok'), true));
  });

  afterAll(async () => {
    for (const e of endpoints) await e.close();
    for (const h of hosts.values()) {
      await sh('docker', ['-H', dockerHost, 'rm', '-f', `${h.name}-squatter`]);
      await h.remove();
    }
  });

  it('creates a VM through throttling and transient errors, and its TLS engine answers through env', async () => {
    const r = await machine(store, ['create', ...flags(url), '--azure-open-port', '8080', 'az1'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(endpoint.calls.slice(0, 4).map((c) => c.status)).toEqual([429, 429, 500, 503]);
    expect((await withEnv('az1', "docker info --format '{{.Name}}'")).stdout.trim()).toBe('az1');
    expect(vms(endpoint)).toEqual(['az1']);
    const vm = endpoint.list('Microsoft.Compute/virtualMachines')[0]!;
    expect(vm.tags).toMatchObject({ 'machine:created-by': 'machine' });
    // Managed disk, current image, the machine's own key.
    expect(JSON.stringify(vm.properties)).toMatch(/managedDisk/);
    const nsg = endpoint.list('Microsoft.Network/networkSecurityGroups')[0]!;
    const ports = (nsg.properties as { securityRules: Array<{ properties: { destinationPortRange: string; protocol: string } }> }).securityRules.map(
      (x) => `${x.properties.protocol}/${x.properties.destinationPortRange}`,
    );
    expect(ports).toEqual(['Tcp/22', 'Tcp/2376', 'Tcp/2377', 'Tcp/7946', 'Udp/7946', 'Udp/4789', 'Tcp/8080']);
    expect(storeText(store)).not.toContain(TOKEN);
  });

  it('env, config, url, ip and inspect never load the Azure SDKs', async () => {
    const trap = join(work, 'trap-sdk.cjs');
    const flag = join(work, 'sdk-loaded');
    writeFileSync(
      trap,
      `const M = require('module'); const orig = M._load; M._load = function (req, ...rest) { if (String(req).includes('@azure/')) { require('fs').writeFileSync(${JSON.stringify(flag)}, String(req)); } return orig.call(this, req, ...rest); };`,
    );
    for (const args of [['env', 'az1'], ['config', 'az1'], ['url', 'az1'], ['ip', 'az1'], ['inspect', 'az1'], ['ls']]) {
      const r = await machine(store, args, { env: { ...env, NODE_OPTIONS: `--require ${trap}` } });
      expect(r.code, args.join(' ')).toBe(0);
    }
    expect(existsSync(flag)).toBe(false);
    await machine(store, ['status', 'az1'], { env: { ...env, NODE_OPTIONS: `--require ${trap}` } });
    expect(existsSync(flag)).toBe(true);
  });

  it('a second machine shares the network and the security group', async () => {
    const r = await machine(store, ['create', ...flags(url), 'az2'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(vms(endpoint)).toEqual(['az1', 'az2']);
    expect(endpoint.list('Microsoft.Network/networkSecurityGroups')).toHaveLength(1);
    expect(endpoint.list('Microsoft.Network/virtualNetworks')).toHaveLength(1);
    expect((await withEnv('az2', "docker info --format '{{.Name}}'")).stdout.trim()).toBe('az2');
  });

  it('stop deallocates, start, restart and kill follow the API and ls', async () => {
    const status = async () => (await machine(store, ['status', 'az1'], { env })).stdout.trim();
    const before = (await machine(store, ['ip', 'az1'], { env })).stdout.trim();
    const stop = await machine(store, ['stop', 'az1'], { env });
    expect(stop.stderr).toBe('');
    expect(stop.code).toBe(0);
    expect(await status()).toBe('Stopped');
    const vm = endpoint.list('Microsoft.Compute/virtualMachines').find((v) => v.name === 'az1')!;
    expect(JSON.stringify(endpoint.get(`${vm.id}/instanceView`) ?? vm)).toBeTruthy();
    expect(endpoint.calls.some((c) => c.method === 'POST' && /\/az1\/deallocate$/i.test(c.path))).toBe(true);
    expect((await machine(store, ['ls', '--filter', 'name=az1', '--format', '{{.State}}'], { env })).stdout.trim()).toBe('Stopped');
    const start = await machine(store, ['start', 'az1'], { env });
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    expect(await status()).toBe('Running');
    // Whatever address it came back at, the certificate names it and the engine answers.
    const ip = (await machine(store, ['ip', 'az1'], { env })).stdout.trim();
    const nic = endpoint.list('Microsoft.Network/networkInterfaces').find((n) => n.name === 'az1-nic')!;
    const pip = endpoint.list('Microsoft.Network/publicIPAddresses').find((n) => n.name === 'az1-ip')!;
    expect(ip).toBe(pip.properties.ipAddress);
    expect(ip).not.toBe(before);
    expect(nic.properties.ipConfigurations[0].properties.privateIPAddress).toBe(ip);
    const info = await withEnv('az1', "docker version --format '{{.Server.Version}}'");
    expect(info.stderr).toBe('');
    expect(info.stdout.trim()).toMatch(/^\d+\./);
    expect((await machine(store, ['restart', 'az1'], { env })).code).toBe(0);
    expect(await status()).toBe('Running');
    expect((await machine(store, ['kill', 'az1'], { env })).code).toBe(0);
    expect(endpoint.calls.some((c) => c.method === 'POST' && /\/az1\/powerOff$/i.test(c.path))).toBe(true);
    expect(await status()).toBe('Stopped');
  });

  it('rm removes the VM, its disk, NIC and IP; the shared network and group go with the last machine', async () => {
    const rm1 = await machine(store, ['rm', '-y', 'az1'], { env });
    expect(rm1.stderr).toBe('');
    expect(rm1.code).toBe(0);
    expect(all(endpoint).filter((x) => x.includes('az1'))).toEqual([]);
    expect(endpoint.list('Microsoft.Network/networkSecurityGroups')).toHaveLength(1);
    expect(endpoint.list('Microsoft.Network/virtualNetworks')).toHaveLength(1);
    const rm2 = await machine(store, ['rm', '-y', 'az2'], { env });
    expect(rm2.stderr).toBe('');
    expect(rm2.code).toBe(0);
    expect(all(endpoint)).toEqual([]);
  });

  it('quota errors, failed operations, unreachable VMs, bad credentials and Ctrl-C fail clearly and leave nothing', async () => {
    const [quota, quotaUrl] = await endpointWith({ quotaOnVm: true });
    const r1 = await machine(store, ['create', ...flags(quotaUrl), 'azq'], { env: envFor(quota, join(work, 'az-ok')) });
    expect(r1.code).toBe(1);
    expect(r1.stderr.trim().split('\n')).toHaveLength(1);
    expect(r1.stderr).toMatch(/^Azure creating the virtual machine failed \(OperationNotAllowed\): .*quota.*: raise the quota/);
    expect(all(quota)).toEqual([]);

    const [failed, failedUrl] = await endpointWith({ failVmCreate: { code: 'AllocationFailed', message: 'Allocation failed. We do not have sufficient capacity for the requested VM size in this region.' } });
    const r2 = await machine(store, ['create', ...flags(failedUrl), 'azf'], { env: envFor(failed, join(work, 'az-ok')) });
    expect(r2.code).toBe(1);
    expect(r2.stderr.trim()).toMatch(/^Azure creating the virtual machine failed \(AllocationFailed\): Allocation failed/);
    expect(all(failed)).toEqual([]);

    const [dead, deadUrl] = await endpointWith(undefined, true);
    const r3 = await machine(store, ['create', ...flags(deadUrl), '--wait-timeout', '15', 'azd'], { env: envFor(dead, join(work, 'az-ok')) });
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/over SSH within 15 s/);
    expect(all(dead)).toEqual([]);

    const [auth, authUrl] = await endpointWith();
    const r4 = await machine(store, ['create', ...flags(authUrl), 'aza'], { env: envFor(auth, fakeAz(join(work, 'az-out'), false)) });
    expect(r4.code).toBe(3);
    expect(r4.stderr.trim()).toMatch(/^Azure checking the virtual machine failed \(CredentialUnavailableError\): .*az login/);
    expect(auth.calls).toEqual([]);
    // A service principal whose secret is given: refused by its authority (here a closed
    // port on loopback), and the secret is written nowhere.
    const r5 = await machine(store, ['create', ...flags(authUrl), '--azure-client-id', 'app-id', '--azure-tenant-id', 'tenant-id', '--azure-client-secret', 'sp-secret-value', 'azs'], {
      env: { ...envFor(auth, join(work, 'az-ok')), AZURE_AUTHORITY_HOST: 'https://127.0.0.1:9' },
    });
    expect(r5.code).toBe(3);
    expect(r5.stderr.trim().split('\n')).toHaveLength(1);
    expect(auth.calls.filter((c) => c.method !== 'GET')).toEqual([]);

    const [slow, slowUrl] = await endpointWith();
    const r6 = await machineInterrupted(store, ['create', ...flags(slowUrl), 'azc'], { env: envFor(slow, join(work, 'az-ok')), when: /Creating virtual machine/ });
    expect(r6.signalled).toBe(true);
    expect(r6.code).toBe(130);
    expect(all(slow)).toEqual([]);

    expect((await machine(store, ['ls', '-q'])).stdout.trim()).toBe('');
    expect(storeText(store)).not.toMatch(/sp-secret-value|machine-test-token/);
  });
});
