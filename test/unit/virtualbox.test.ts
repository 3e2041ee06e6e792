import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseShare, parseVirtualboxFlags } from '../../src/drivers/virtualbox/flags.js';
import { chooseHostOnly, chooseHostOnlyNet, fixedAddress, hostOnlyKind, hostOnlyPlan } from '../../src/drivers/virtualbox/network.js';
import {
  parseDhcpServers,
  parseGuestProperties,
  parseGuestProperty,
  parseHostOnlyIfs,
  parseHostOnlyNets,
  parseHwVirt,
  parseMachineReadable,
  parseNatRules,
  parseRecords,
  parseVersion,
  parseVmList,
} from '../../src/drivers/virtualbox/parse.js';
import { firstError, vboxManageCandidates } from '../../src/drivers/virtualbox/vboxmanage.js';
import { addressOf } from '../../src/drivers/virtualbox/index.js';
import { repoRoot } from '../helpers/cli.js';

const rec = (version: string, name: string) => readFileSync(join(repoRoot, 'drivers-test-fixtures', 'virtualbox', version, name), 'utf8');

describe('virtualbox: reading recorded VBoxManage outputs', () => {
  it('reads the version of 6.1, 7.0 and 7.1, also after a warning line', () => {
    expect(parseVersion(rec('6.1', 'version.txt'))).toMatchObject({ major: 6, minor: 1, patch: 28, raw: '6.1.28r147628' });
    expect(parseVersion(rec('7.0', 'version.txt'))).toMatchObject({ major: 7, minor: 0, patch: 10 });
    expect(parseVersion(rec('7.1', 'version.txt'))).toMatchObject({ major: 7, minor: 1, patch: 6 });
    expect(parseVersion(rec('7.1', 'version-logname-warning.txt'))).toMatchObject({ major: 7, minor: 1, patch: 4, raw: '7.1.4r165100' });
    expect(parseVersion('WARNING: something\n')).toBeUndefined();
  });

  it('reads showvminfo --machinereadable of 7.0, with its "Encryption:" line, quoted keys and multi-line values', () => {
    const info = parseMachineReadable(rec('7.0', 'showvminfo-poweroff-natpf-hostonly.txt'));
    expect(info.get('name')).toBe('xtec-1');
    expect(info.get('VMState')).toBe('poweroff');
    expect(info.get('UUID')).toBe('02fd76af-2bae-4c98-add1-4d802a2f77fa');
    expect(info.get('IDE Controller-0-0')).toBe('/home/david/.xtec/xtec-1/xtec-disk001.vmdk');
    expect(info.get('hostonlyadapter2')).toBe('VirtualBox Host-Only Ethernet Adapter');
    expect(info.has('Encryption')).toBe(false);
    expect(parseNatRules(info)).toEqual([{ name: 'ssh', proto: 'tcp', hostIp: '127.0.0.1', hostPort: 2201, guestIp: '', guestPort: 22 }]);
    const other = parseMachineReadable(rec('7.0', 'showvminfo-poweroff.txt'));
    expect(other.get('name')).toBe('manjaro-gnome-x64-full-clean');
    expect(other.get('VMState')).toBe('poweroff');
    const multi = parseMachineReadable('name="a"\ndescription="line one\nline \\"two\\"\nthree"\nVMState="running"\nCfgFile="C:\\\\Users\\\\x\\\\a.vbox"\r\n');
    expect(multi.get('description')).toBe('line one\nline "two"\nthree');
    expect(multi.get('VMState')).toBe('running');
    expect(multi.get('CfgFile')).toBe('C:\\Users\\x\\a.vbox');
  });

  it('reads list vms, host-only interfaces (6.1, 7.0), 7.x host-only networks and DHCP servers (6.1, 7.0)', () => {
    expect(parseVmList(rec('7.0', 'list-vms.txt'))).toEqual([
      { name: 'dn01-vm1', uuid: 'd97ea83e-5898-4050-8dfc-26adaa9927b0' },
      { name: 'CentOS-7-x64', uuid: 'fb934577-6c9e-4d5e-875f-06405d8346a4' },
    ]);
    expect(parseHostOnlyIfs(rec('6.1', 'list-hostonlyifs.txt'))).toEqual([
      { name: 'vboxnet0', ip: '10.20.30.1', mask: '255.255.255.0', dhcp: false, up: true, networkName: 'HostInterfaceNetworking-vboxnet0' },
    ]);
    expect(parseHostOnlyIfs(rec('7.0', 'list-hostonlyifs.txt'))).toMatchObject([{ name: 'vboxnet0', ip: '192.168.56.1', up: false }]);
    // 7.x puts a blank line inside each record.
    expect(parseRecords(rec('7.0', 'list-hostonlynets.txt'), 'Name')).toEqual([
      expect.objectContaining({ Name: 'vagrantnet-vbox1', State: 'Enabled', VBoxNetworkName: 'hostonly-vagrantnet-vbox1' }),
    ]);
    expect(parseDhcpServers(rec('6.1', 'list-dhcpservers.txt'))).toEqual([
      { networkName: 'HostInterfaceNetworking-vboxnet0', ip: '192.168.56.100', mask: '255.255.255.0', lower: '192.168.56.101', upper: '192.168.56.254', enabled: true },
      { networkName: 'HostInterfaceNetworking-vboxnet5', ip: '172.28.128.2', mask: '255.255.255.0', lower: '172.28.128.3', upper: '172.28.128.254', enabled: true },
    ]);
    const d70 = parseDhcpServers(rec('7.0', 'list-dhcpservers.txt'));
    expect(d70[0]).toEqual({ networkName: 'HostInterfaceNetworking-vboxnet0', ip: '192.168.56.1', mask: '255.255.255.0', lower: '192.168.56.101', upper: '192.168.56.104', enabled: true });
    expect(d70.map((d) => d.networkName)).toContain('DN01_NatNetwork');
  });

  it("reads guest properties in 6.1's and 7.x's formats, and host info's VT-x line", () => {
    expect(parseGuestProperties(rec('6.1', 'guestproperty-enumerate-excerpt.txt')).get('/VirtualBox/GuestInfo/Net/1/V4/IP')).toBe('10.20.30.10');
    expect(parseGuestProperties(rec('7.0', 'guestproperty-enumerate-pattern.txt')).get('/VirtualBox/GuestInfo/Net/0/V4/IP')).toBe('192.168.1.157');
    expect(parseGuestProperty(rec('7.0', 'guestproperty-get-novalue.txt'))).toBeUndefined();
    expect(parseGuestProperty('Value: 192.168.99.100\n')).toBe('192.168.99.100');
    expect(parseHwVirt(rec('6.1', 'list-hostinfo.txt'))).toBe(true);
    expect(parseHwVirt(rec('6.1', 'list-hostinfo.txt').replace('HW virtualization: yes', 'HW virtualization: no'))).toBe(false);
    expect(parseHwVirt('Host Information:\n')).toBeUndefined();
  });

  it("takes VBoxManage's own error line as the message", () => {
    expect(firstError(rec('7.0', 'showvminfo-notfound.stderr.txt'))).toBe("Could not find a registered machine named 'xtec-4'");
    expect(firstError(rec('6.1', 'startvm-vtx-disabled-windows.stderr.txt'))).toBe('Not in a hypervisor partition (HVP=0) (VERR_NEM_NOT_AVAILABLE).');
    expect(firstError(rec('6.1', 'hostonlyif-ipconfig-accessdenied.stderr.txt'))).toBe('Code E_ACCESSDENIED (0x80070005) - Access denied (extended info not available)');
    expect(firstError(rec('6.1', 'hostonlyif-create-no-vboxnetctl.stderr.txt'))).toBe('Failed to create the host-only adapter');
  });
});

describe('virtualbox: host-only network plan', () => {
  it("lays out a /24 as VirtualBox does and refuses network and broadcast addresses", () => {
    expect(hostOnlyPlan('192.168.99.1/24')).toEqual({
      hostIp: '192.168.99.1', mask: '255.255.255.0', prefix: 24, network: '192.168.99.0',
      dhcp: { ip: '192.168.99.99', lower: '192.168.99.100', upper: '192.168.99.254' },
    });
    expect(hostOnlyPlan('10.1.0.1/16').dhcp).toEqual({ ip: '10.1.0.99', lower: '10.1.0.100', upper: '10.1.255.254' });
    expect(hostOnlyPlan('172.30.5.1/28').dhcp).toEqual({ ip: '172.30.5.7', lower: '172.30.5.8', upper: '172.30.5.14' });
    expect(() => hostOnlyPlan('192.168.99.0/24')).toThrow(/host-only cidr must be specified with a host address, not a network address: use 192\.168\.99\.1\/24/);
    expect(() => hostOnlyPlan('192.168.99.255/24')).toThrow(/broadcast/);
    expect(() => hostOnlyPlan('192.168.999.1/24')).toThrow(/is not an IPv4 CIDR/);
  });

  it('gives a machine without DHCP a fixed address inside the lease range, also on small networks', () => {
    const inRange = (cidr: string, names: string[]) => {
      const plan = hostOnlyPlan(cidr);
      const n = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
      return names.every((name) => {
        const a = n(fixedAddress(plan, name));
        return a >= n(plan.dhcp.lower) && a <= n(plan.dhcp.upper);
      });
    };
    const names = ['default', 'dev', 'a', 'swarm-worker-17', 'x'.repeat(40)];
    expect(inRange('192.168.99.1/24', names)).toBe(true);
    expect(inRange('172.30.5.1/28', names)).toBe(true);
    expect(inRange('10.9.0.1/29', names)).toBe(true);
    expect(fixedAddress(hostOnlyPlan('192.168.99.1/24'), 'default')).toMatch(/^192\.168\.99\.(1[5-9]\d|2[0-4]\d)$/);
    expect(fixedAddress(hostOnlyPlan('192.168.99.1/24'), 'dev')).toBe(fixedAddress(hostOnlyPlan('192.168.99.1/24'), 'dev'));
  });

  it('reuses the interface on the same address, refuses overlaps with VirtualBox or host interfaces', () => {
    const plan = hostOnlyPlan('192.168.99.1/24');
    const vbox = [{ name: 'vboxnet0', ip: '192.168.99.1', mask: '255.255.255.0', dhcp: true, up: true, networkName: '' }];
    expect(chooseHostOnly(plan, vbox, [{ name: 'vboxnet0', ip: '192.168.99.1', prefix: 24 }]).reuse?.name).toBe('vboxnet0');
    expect(chooseHostOnly(plan, [], [{ name: 'eth0', ip: '10.0.0.5', prefix: 8 }])).toEqual({});
    expect(() => chooseHostOnly(hostOnlyPlan('192.168.99.7/24'), vbox, [])).toThrow(/conflicts with VirtualBox host-only interface vboxnet0/);
    expect(() => chooseHostOnly(plan, [], [{ name: 'wlan0', ip: '192.168.99.23', prefix: 24 }])).toThrow(
      /^host-only cidr 192\.168\.99\.1\/24 conflicts with the network address of host interface wlan0 \(192\.168\.99\.23\/24\)/,
    );
    // A wider host network that contains the host-only one clashes too.
    expect(() => chooseHostOnly(plan, [], [{ name: 'eth1', ip: '192.168.0.2', prefix: 16 }])).toThrow(/host interface eth1/);
  });
});

describe("virtualbox: 7.x host-only networks and the guest's address", () => {
  it('uses networks on macOS with VirtualBox 7, interfaces elsewhere, unless told', () => {
    expect(hostOnlyKind(7, 'darwin', {})).toBe('network');
    expect(hostOnlyKind(6, 'darwin', {})).toBe('interface');
    expect(hostOnlyKind(7, 'linux', {})).toBe('interface');
    expect(hostOnlyKind(7, 'linux', { MACHINE_VIRTUALBOX_HOSTONLY: 'network' })).toBe('network');
  });

  it('reads the recorded 7.x listing and reuses a network on the same range only', () => {
    const nets = parseHostOnlyNets(rec('7.0', 'list-hostonlynets.txt'));
    expect(nets).toEqual([{ name: 'vagrantnet-vbox1', mask: '255.255.255.0', lower: '192.168.56.0', upper: '192.168.56.0', enabled: true }]);
    expect(chooseHostOnlyNet(hostOnlyPlan('192.168.56.1/24'), nets).reuse?.name).toBe('vagrantnet-vbox1');
    expect(chooseHostOnlyNet(hostOnlyPlan('192.168.99.1/24'), nets)).toEqual({});
    expect(() => chooseHostOnlyNet(hostOnlyPlan('192.168.56.1/21'), nets)).toThrow(/conflicts with VirtualBox host-only network vagrantnet-vbox1/);
  });

  it("finds the address of the NIC with the host-only adapter's MAC", () => {
    const out = [
      '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00',
      '2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP mode DEFAULT group default qlen 1000\\    link/ether 08:00:27:1a:45:65 brd ff:ff:ff:ff:ff:ff',
      '3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP mode DEFAULT group default qlen 1000\\    link/ether 08:00:27:ae:1f:98 brd ff:ff:ff:ff:ff:ff',
      '@@addr',
      '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
      '2: eth0    inet 10.0.2.15/24 brd 10.0.2.255 scope global dynamic eth0\\       valid_lft 86313sec preferred_lft 86313sec',
      '3: eth1    inet 192.168.99.100/24 brd 192.168.99.255 scope global dynamic eth1\\       valid_lft 1113sec preferred_lft 1113sec',
    ].join('\n');
    expect(addressOf('08:00:27:ae:1f:98', out)).toBe('192.168.99.100');
    expect(addressOf('08:00:27:1a:45:65', out)).toBe('10.0.2.15');
    expect(addressOf('08:00:27:00:00:01', out)).toBeUndefined();
    // No address yet (DHCP still going).
    expect(addressOf('08:00:27:ae:1f:98', out.split('\n').slice(0, 5).join('\n'))).toBeUndefined();
  });
});

describe('virtualbox: flags and install locations', () => {
  it("takes Docker Machine's defaults and checks values", () => {
    const s = parseVirtualboxFlags({}, () => 8);
    expect(s).toMatchObject({ Memory: 1024, CPU: 1, DiskSize: 20000, HostOnlyCIDR: '192.168.99.1/24', NatNicType: '82540EM', HostOnlyPromiscMode: 'deny', UIType: 'headless', DNSProxy: true, HostOnlyNoDHCP: false, NoVTXCheck: false });
    expect(parseShare(s)?.path).toBe(process.platform === 'darwin' ? '/Users' : '/home');
    expect(parseVirtualboxFlags({ 'virtualbox-cpu-count': -1 }, () => 8).CPU).toBe(8);
    expect(parseShare(parseVirtualboxFlags({ 'virtualbox-share-folder': 'C:\\src:src' }, () => 1))).toEqual({ path: 'C:\\src', name: 'src' });
    expect(parseShare(parseVirtualboxFlags({ 'virtualbox-no-share': true }, () => 1))).toBeUndefined();
    expect(() => parseVirtualboxFlags({ 'virtualbox-boot2docker-url': '/tmp/b2d.iso' }, () => 1)).toThrow(/^--virtualbox-boot2docker-url: boot2docker is retired/);
    expect(() => parseVirtualboxFlags({ 'virtualbox-nat-nictype': 'e1000' }, () => 1)).toThrow(/--virtualbox-nat-nictype must be one of Am79C970A, Am79C973, 82540EM/);
    expect(() => parseVirtualboxFlags({ 'virtualbox-hostonly-nicpromisc': 'yes' }, () => 1)).toThrow(/deny, allow-vms, allow-all/);
    expect(() => parseVirtualboxFlags({ 'virtualbox-ui-type': 'vnc' }, () => 1)).toThrow(/--virtualbox-ui-type/);
    expect(() => parseVirtualboxFlags({ 'virtualbox-memory': 64 }, () => 1)).toThrow(/at least 128/);
    expect(() => parseVirtualboxFlags({ 'virtualbox-import-boot2docker-vm': 'boot2docker-vm' }, () => 1)).toThrow(/^--virtualbox-import-boot2docker-vm: boot2docker is retired/);
  });

  it('looks for VBoxManage on PATH, in the installers\' variables and the usual folders', () => {
    expect(vboxManageCandidates({ PATH: '/opt/x' }, 'linux')).toEqual(['/opt/x/VBoxManage', '/usr/bin/VBoxManage', '/usr/lib/virtualbox/VBoxManage']);
    expect(vboxManageCandidates({ PATH: '' }, 'darwin')).toContain('/Applications/VirtualBox.app/Contents/MacOS/VBoxManage');
    expect(vboxManageCandidates({ PATH: '', VBOX_MSI_INSTALL_PATH: '/vbox' }, 'linux')[0]).toBe('/vbox/VBoxManage');
  });
});
