import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HOST_CAPS } from '../harness/hosts.js';
import { sh } from '../harness/exec.js';
import { bash, machine, machineCmd, repoRoot, tempStore } from '../helpers/cli.js';

const skipReason = inject('e2eSkipReason');
const fakeBin = join(repoRoot, 'test', 'vbox', 'bin');

interface FakeState {
  vms: Array<{ name: string; state: string; container: string }>;
  media: Array<{ path: string }>;
  hostonlyifs: Array<{ name: string; ip: string; mask: string }>;
  dhcpservers: Array<{ netname: string }>;
}

describe.skipIf(skipReason)(`virtualbox driver against a fake VBoxManage replaying recorded outputs${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const dockerHost = inject('dockerHost');
  const image = inject('hostImage');
  let root: string;
  let cloudImage: string;
  const homes: string[] = [];

  // What the fake needs to back a VM with a system container, as the other e2e hosts are.
  const dockerArgs = [
    '--cgroupns=host', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--tmpfs', '/run', '--tmpfs', '/run/lock', '--tmpfs', '/tmp',
    '-v', '/var/lib/docker', '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
    ...HOST_CAPS.flatMap((c) => ['--cap-add', c]),
  ];

  async function fake(version: string, name: string, extra: Record<string, string> = {}) {
    const home = join(root, `vbox-${name}`);
    await mkdir(home, { recursive: true });
    homes.push(home);
    const store = join(root, `store-${name}`);
    const env = {
      PATH: `${fakeBin}:${process.env.PATH}`,
      FAKE_VBOX_HOME: home,
      FAKE_VBOX_VERSION: version,
      FAKE_VBOX_DOCKER_HOST: dockerHost,
      FAKE_VBOX_IMAGE: image,
      FAKE_VBOX_DOCKER_ARGS: JSON.stringify(dockerArgs),
      FAKE_VBOX_NODE: process.execPath,
      MACHINE_VIRTUALBOX_STOP_TIMEOUT: '30',
      ...extra,
    };
    const calls = () =>
      existsSync(join(home, 'calls.jsonl'))
        ? readFileSync(join(home, 'calls.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[])
        : [];
    const state = () => JSON.parse(readFileSync(join(home, 'state.json'), 'utf8')) as FakeState;
    const seed = (s: Partial<FakeState>) => writeFileSync(join(home, 'state.json'), JSON.stringify({ vms: [], media: [], hostonlyifs: [], dhcpservers: [], ...s }));
    const run = (args: string[], more: Record<string, string> = {}) => machine(store, args, { env: { ...env, ...more } });
    return { home, store, env, calls, state, seed, run };
  }

  /** Calls as "command subcommand" words, without the state polls that depend on timing. */
  const verbs = (calls: string[][]) =>
    calls
      .filter((c) => c[0] !== 'showvminfo')
      .map((c) => (['list', 'hostonlyif', 'dhcpserver', 'guestproperty'].includes(c[0]!) ? `${c[0]} ${c[1]}` : c[0] === 'controlvm' ? `controlvm ${c[2]}` : c[0]!))
      .filter((v, i, all) => !(v === 'guestproperty get' && all[i - 1] === v));

  async function removeFakeResources(label: string): Promise<void> {
    const left = (await sh('docker', ['-H', dockerHost, 'ps', '-aq', '--filter', `label=${label}`])).stdout.split('\n').filter(Boolean);
    if (left.length) await sh('docker', ['-H', dockerHost, 'rm', '-f', '-v', ...left]);
    const nets = (await sh('docker', ['-H', dockerHost, 'network', 'ls', '-q', '--filter', `label=${label}`])).stdout.split('\n').filter(Boolean);
    if (nets.length) await sh('docker', ['-H', dockerHost, 'network', 'rm', ...nets]);
  }

  beforeAll(async () => {
    // Host-only bridges a crashed earlier run left would clash with this run's networks.
    await removeFakeResources('fakevbox');
    root = await tempStore('machine-e2e-vbox-');
    // A "cloud image": the fake never boots its bytes, the driver only converts it.
    cloudImage = join(root, 'debian-12-genericcloud-amd64.raw');
    writeFileSync(cloudImage, Buffer.alloc(1 << 20));
  });

  afterAll(async () => {
    for (const home of homes) await removeFakeResources(`fakevbox=${home}`);
  });

  const lifeCycles = [
    { version: '6.1', cidr: '192.168.213.1/24', net: '192.168.213', boot: 'a cloud image' },
    { version: '7.1', cidr: '192.168.214.1/24', net: '192.168.214', boot: 'a cloud image' },
  ] as const;
  for (const { version, cidr, net, boot } of lifeCycles) {
    it(`runs a whole life cycle on VirtualBox ${version} outputs from ${boot}: create, env, stop, start, kill, rm`, async () => {
      const f = await fake(version, `life-${version}`);
      const source = ['--virtualbox-image-url', cloudImage];
      const flags = ['-d', 'virtualbox', ...source, '--virtualbox-hostonly-cidr', cidr, '--virtualbox-memory', '2048', '--engine-install-url', 'distro', '--wait-timeout', '300'];
      const created = await f.run(['create', ...flags, 'vb1']);
      expect(created.stderr + created.stdout).not.toMatch(/Error/);
      expect(created.code).toBe(0);
      expect(created.stdout + created.stderr).toMatch(/Creating a new host-only adapter for 192\.168\.21\d\.1\/24/);

      const c = f.calls();
      expect(verbs(c)).toEqual([
        '--version', 'list hostinfo', 'list vms', 'list hostonlyifs',
        'convertfromraw', 'modifymedium', 'createvm', 'modifyvm', 'modifyvm', 'storagectl', 'storageattach', 'storageattach', 'sharedfolder', 'setextradata',
        'list hostonlyifs', 'hostonlyif create', 'hostonlyif ipconfig', 'list hostonlyifs', 'list dhcpservers', 'dhcpserver add',
        'modifyvm', 'modifyvm', 'startvm', 'guestproperty get',
      ]);
      const machineDir = join(f.store, 'machines', 'vb1');
      expect(c).toContainEqual(['createvm', '--basefolder', machineDir, '--name', 'vb1', '--register']);
      // vboxnet0 unless an earlier test's interface still holds that name.
      const ifName = c.find((x) => x[0] === 'hostonlyif' && x[1] === 'ipconfig')?.[2] ?? '';
      expect(ifName).toMatch(/^vboxnet\d+$/);
      expect(f.state().hostonlyifs.map((i) => i.name)).toEqual([ifName]);
      expect(c).toContainEqual(['hostonlyif', 'ipconfig', ifName, '--ip', `${net}.1`, '--netmask', '255.255.255.0']);
      expect(c).toContainEqual(['dhcpserver', 'add', '--netname', `HostInterfaceNetworking-${ifName}`, '--ip', `${net}.99`, '--netmask', '255.255.255.0', '--lowerip', `${net}.100`, '--upperip', `${net}.254`, '--enable']);
      expect(c).toContainEqual(['startvm', 'vb1', '--type', 'headless']);
      const attach = c.filter((x) => x[0] === 'storageattach').map((x) => x.slice(-3).join(' '));
      expect(c).toContainEqual(['convertfromraw', cloudImage, join(machineDir, 'disk.vdi'), '--format', 'VDI']);
      expect(attach).toEqual([`hdd --medium ${join(machineDir, 'disk.vdi')}`, `dvddrive --medium ${join(machineDir, 'seed.iso')}`]);
      const natpf = c.find((x) => x[0] === 'modifyvm' && x[2] === '--natpf1');
      expect(natpf?.[3]).toMatch(/^ssh,tcp,127\.0\.0\.1,\d+,,22$/);
      expect(c.find((x) => x[0] === 'modifyvm' && x.includes('--memory'))).toEqual(expect.arrayContaining(['--memory', '2048', '--cpus', '1']));

      // The docker CLI reaches the engine at the host-only address, over TLS.
      expect((await f.run(['ip', 'vb1'])).stdout.trim()).toBe(`${net}.100`);
      const info = await bash(`set -e; eval "$(${machineCmd(f.store)} env vb1)"; docker info --format '{{.Name}} {{.Labels}}'`, f.env);
      expect(info.stderr).toBe('');
      expect(info.stdout).toMatch(/^vb1 .*provider=virtualbox/);
      const ls = await f.run(['ls', '--format', '{{.Name}} {{.DriverName}} {{.State}} {{.URL}}']);
      expect(ls.stdout.trim()).toBe(`vb1 virtualbox Running tcp://${net}.100:2376`);

      let before = f.calls().length;
      expect((await f.run(['stop', 'vb1'])).code).toBe(0);
      expect(f.calls().slice(before)).toContainEqual(['controlvm', 'vb1', 'acpipowerbutton']);
      expect((await f.run(['status', 'vb1'])).stdout.trim()).toBe('Stopped');

      before = f.calls().length;
      // This boot gets another DHCP lease: the certificate is made again for the new address.
      const started = await f.run(['start', 'vb1'], { FAKE_VBOX_NEW_LEASE: '1' });
      expect(started.code).toBe(0);
      expect(started.stdout).toContain(`"vb1" is now at ${net}.101, which its certificate does not name: regenerating its certificates...`);
      // The host-only interface is there now: start reuses it.
      expect(verbs(f.calls().slice(before))).toEqual(['list hostonlyifs', 'list dhcpservers', 'modifyvm', 'startvm', 'guestproperty get']);
      expect((await f.run(['ip', 'vb1'])).stdout.trim()).toBe(`${net}.101`);
      const again = await bash(`set -e; eval "$(${machineCmd(f.store)} env vb1)"; docker info --format '{{.Name}}'`, f.env);
      expect(again.stderr).toBe('');
      expect(again.stdout.trim()).toBe('vb1');

      before = f.calls().length;
      expect((await f.run(['kill', 'vb1'])).code).toBe(0);
      expect(verbs(f.calls().slice(before))).toEqual(['controlvm poweroff']);
      expect((await f.run(['status', 'vb1'])).stdout.trim()).toBe('Stopped');

      const container = f.state().vms[0]!.container;
      before = f.calls().length;
      expect((await f.run(['rm', '-y', 'vb1'])).code).toBe(0);
      expect(f.calls().slice(before)).toContainEqual(['unregistervm', 'vb1', '--delete']);
      expect(f.state().vms).toEqual([]);
      expect(f.state().media.filter((m) => /disk\.(vdi|vmdk)$/.test(m.path))).toEqual([]);
      expect((await sh('docker', ['-H', dockerHost, 'inspect', container])).code).not.toBe(0);
      expect(existsSync(machineDir)).toBe(false);
    });
  }

  it('uses VirtualBox 7 host-only networks where host-only interfaces are gone (macOS): made once, then reused', async () => {
    const f = await fake('7.0', 'hostonlynet', { MACHINE_VIRTUALBOX_HOSTONLY: 'network' });
    // Without an engine on the host and --engine-install-url none, create stops at provisioning:
    // after the VM booted, answered SSH and showed its host-only address.
    const args = (name: string) => ['create', '-d', 'virtualbox', '--virtualbox-image-url', cloudImage, '--virtualbox-hostonly-cidr', '192.168.218.1/24', '--engine-install-url', 'none', '--wait-timeout', '120', name];
    const first = await f.run(args('net1'));
    expect(first.code).toBe(1);
    expect(first.stderr.trim().split('\n').pop()).toMatch(/^Docker is not installed on the host and --engine-install-url is "none"/);
    expect(first.stdout).toMatch(/Creating a new host-only network machine-192\.168\.218\.0 for 192\.168\.218\.0\/24/);
    expect(first.stdout).toMatch(/Generating server certificate for 192\.168\.218\.100, localhost/);
    const c = f.calls();
    expect(c).toContainEqual(['hostonlynet', 'add', '--name', 'machine-192.168.218.0', '--netmask', '255.255.255.0', '--lower-ip', '192.168.218.100', '--upper-ip', '192.168.218.254', '--enable']);
    expect(c).toContainEqual(['modifyvm', 'net1', '--nic2', 'hostonlynet', '--nictype2', '82540EM', '--nicpromisc2', 'deny', '--host-only-net2', 'machine-192.168.218.0', '--cableconnected2', 'on', '--macaddress2', expect.stringMatching(/^080027/)]);
    expect(c.filter((x) => x[0] === 'hostonlyif' || x[0] === 'dhcpserver' || (x[0] === 'list' && x[1] === 'hostonlyifs'))).toEqual([]);
    expect(f.state().vms).toEqual([]);

    const before = f.calls().length;
    const second = await f.run(args('net2'));
    expect(second.stdout).toMatch(/Generating server certificate for 192\.168\.218\.100, localhost/);
    const c2 = f.calls().slice(before);
    expect(c2.filter((x) => x[0] === 'hostonlynet')).toEqual([]);
    expect(c2.find((x) => x[0] === 'modifyvm' && x[2] === '--nic2')).toContain('machine-192.168.218.0');
  });

  it('refuses a missing VBoxManage, VT-x disabled, boot2docker and clashing host-only networks before making anything', async () => {
    const f = await fake('7.0', 'bad');
    const base = ['-d', 'virtualbox', '--virtualbox-image-url', cloudImage];

    // boot2docker is retired and cannot be provisioned: refused before VBoxManage is even asked.
    for (const flag of ['--virtualbox-boot2docker-url', '--virtualbox-import-boot2docker-vm']) {
      const b2d = await f.run(['create', '-d', 'virtualbox', flag, 'x', 'b2d']);
      expect(b2d.code).toBe(1);
      expect(b2d.stderr.trim()).toBe(`${flag}: boot2docker is retired (its last release, 19.03.12, is from 2020) and machine does not provision it: leave the flag out to boot a cloud image (Debian 12 by default, or --virtualbox-image-url)`);
    }
    expect(f.calls()).toEqual([]);

    const missing = await f.run(['create', ...base, 'nobox'], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
    expect(missing.code).toBe(3);
    expect(missing.stderr.trim()).toMatch(/^VBoxManage not found: install VirtualBox .*or put VBoxManage on the PATH$/);

    const vtx = await f.run(['create', ...base, 'novtx'], { FAKE_VBOX_HWVIRT: 'no' });
    expect(vtx.code).toBe(3);
    expect(vtx.stderr.trim().split('\n').pop()).toBe("This computer doesn't have VT-X/AMD-v enabled. Enabling it in the BIOS is mandatory (or pass --virtualbox-no-vtx-check to try anyway)");

    f.seed({ hostonlyifs: [{ name: 'vboxnet0', ip: '192.168.56.1', mask: '255.255.255.0' }] });
    const clash = await f.run(['create', ...base, '--virtualbox-hostonly-cidr', '192.168.56.7/24', 'clash']);
    expect(clash.code).toBe(3);
    expect(clash.stderr.trim().split('\n').pop()).toBe(
      'host-only cidr 192.168.56.7/24 conflicts with VirtualBox host-only interface vboxnet0 (192.168.56.1/24): pass --virtualbox-hostonly-cidr 192.168.56.1/24 to share it, or a network of its own',
    );
    // The test engine's bridge is an interface of this host that VirtualBox does not own.
    const hostClash = await f.run(['create', ...base, '--virtualbox-hostonly-cidr', '10.213.0.9/24', 'clash2']);
    expect(hostClash.stderr.trim().split('\n').pop()).toMatch(/^host-only cidr 10\.213\.0\.9\/24 conflicts with the network address of host interface machine-e2e0 \(10\.213\.0\.1\/24\)/);
    const netAddr = await f.run(['create', ...base, '--virtualbox-hostonly-cidr', '192.168.99.0/24', 'netaddr']);
    expect(netAddr.stderr.trim().split('\n').pop()).toMatch(/^host-only cidr must be specified with a host address, not a network address: use 192\.168\.99\.1\/24/);

    expect(f.calls().filter((c) => ['createvm', 'convertfromraw', 'hostonlyif'].includes(c[0]!))).toEqual([]);
    expect((await f.run(['ls', '-q'])).stdout.trim()).toBe('');
  });

  it('removes the VM when start fails after it was made: VT-x at boot, a host-only range VirtualBox refuses', async () => {
    const f = await fake('6.1', 'rollback');
    const base = ['-d', 'virtualbox', '--virtualbox-image-url', cloudImage, '--virtualbox-no-share'];

    const vtx = await f.run(['create', ...base, '--virtualbox-no-vtx-check', '--virtualbox-hostonly-cidr', '192.168.215.1/24', 'vtxboot'], { FAKE_VBOX_HWVIRT: 'no' });
    expect(vtx.code).toBe(1);
    expect(vtx.stderr.trim().split('\n').pop()).toBe(
      "This computer doesn't have VT-X/AMD-v enabled. Enabling it in the BIOS is mandatory (VirtualBox: VT-x is disabled in the BIOS for all CPU modes (VERR_VMX_MSR_ALL_VMX_DISABLED))",
    );
    expect(f.calls().map((c) => c.join(' '))).toContain('unregistervm vtxboot --delete');

    // VirtualBox 6.1.28+ keeps host-only networks to 192.168.56.0/21 unless networks.conf widens it.
    const conf = await f.run(['create', ...base, '--virtualbox-hostonly-cidr', '192.168.99.1/24', 'netconf'], { FAKE_VBOX_NETWORKS_CONF: 'default' });
    expect(conf.code).toBe(1);
    expect(conf.stderr.trim().split('\n').pop()).toBe(
      'VirtualBox refused host-only network 192.168.99.0/24 (access denied): add "* 192.168.99.0/24" to /etc/vbox/networks.conf, or pass --virtualbox-hostonly-cidr 192.168.56.1/21',
    );
    expect(f.state().vms).toEqual([]);
    expect(f.state().media).toEqual([]);
    expect((await f.run(['ls', '-q'])).stdout.trim()).toBe('');
  });

  it('gives up on a VM whose SSH never comes up within --wait-timeout, and removes it; an existing host-only network is reused', async () => {
    const f = await fake('7.0', 'nossh', { FAKE_VBOX_NO_SSH: '1' });
    f.seed({
      hostonlyifs: [{ name: 'vboxnet7', ip: '192.168.216.1', mask: '255.255.255.0' }],
      dhcpservers: [{ netname: 'HostInterfaceNetworking-vboxnet7', ip: '192.168.216.99', mask: '255.255.255.0', lower: '192.168.216.100', upper: '192.168.216.254', enabled: true } as never],
    });
    const t = Date.now();
    const r = await f.run(['create', '-d', 'virtualbox', '--virtualbox-image-url', cloudImage, '--virtualbox-hostonly-cidr', '192.168.216.1/24', '--wait-timeout', '12', 'mute']);
    const took = Date.now() - t;
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/^VM "mute" did not answer SSH on 127\.0\.0\.1:\d+ within 12 s .*: see its console in .*console\.log$/);
    expect(took).toBeLessThan(60_000);
    const c = f.calls();
    expect(c.filter((x) => x[0] === 'hostonlyif' || x[0] === 'dhcpserver')).toEqual([]);
    expect(c).toContainEqual(['modifyvm', 'mute', '--nic2', 'hostonly', '--nictype2', '82540EM', '--nicpromisc2', 'deny', '--hostonlyadapter2', 'vboxnet7', '--cableconnected2', 'on', '--macaddress2', expect.stringMatching(/^080027[0-9A-F]{6}$/)]);
    expect(verbs(c).slice(-2)).toEqual(['controlvm poweroff', 'unregistervm']);
    expect(f.state().vms).toEqual([]);
    expect((await sh('docker', ['-H', dockerHost, 'ps', '-aq', '--filter', `label=fakevbox=${f.home}`])).stdout.trim()).toBe('');
    expect((await f.run(['ls', '-q'])).stdout.trim()).toBe('');
  });
});
