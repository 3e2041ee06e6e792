import { platform } from 'node:os';
import * as v from 'valibot';
import { UsageError } from '../../errors.js';
import { parseCidr, type Cidr } from '../../net/ipv4.js';
import { flagInt, flagString } from '../base.js';
import type { FlagSpec, FlagValues } from '../driver.js';
import { bool, defaultsOf, int, settingsSchema, str, type SettingsOf } from '../settings.js';

export const BOOT2DOCKER_RETIRED =
  'boot2docker is retired (its last release, 19.03.12, is from 2020) and machine does not provision it: leave the flag out to boot a cloud image (Debian 12 by default, or --virtualbox-image-url)';

const NIC_TYPES = ['Am79C970A', 'Am79C973', '82540EM', '82543GC', '82545EM', 'virtio'];
const PROMISC = ['deny', 'allow-vms', 'allow-all'];
const UI_TYPES = ['headless', 'gui', 'sdl', 'separate'];

/** Docker Machine's defaults: the host's user folders, under the name boot2docker mounted them by. */
export function defaultShare(os = platform()): { name: string; path: string } {
  if (os === 'darwin') return { name: 'Users', path: '/Users' };
  if (os === 'win32') return { name: 'c/Users', path: 'C:\\Users' };
  return { name: 'hosthome', path: '/home' };
}

/**
 * What config.json keeps of a virtualbox machine: Docker Machine's field names and defaults
 * (drivers/virtualbox/virtualbox.go), so its stores' machines keep working, plus ours.
 */
export const VirtualboxSettingsSchema = settingsSchema({
  SSHUser: str('docker'),
  SSHPort: int(0),
  CPU: int(1),
  /** MB */
  Memory: int(1024),
  /** MB */
  DiskSize: int(20000),
  NatNicType: str('82540EM'),
  Boot2DockerURL: str(),
  Boot2DockerImportVM: str(),
  HostDNSResolver: bool(),
  HostOnlyCIDR: str('192.168.99.1/24'),
  HostOnlyNicType: str('82540EM'),
  HostOnlyPromiscMode: str('deny'),
  UIType: str('headless'),
  HostOnlyNoDHCP: bool(),
  NoShare: bool(),
  DNSProxy: bool(true),
  NoVTXCheck: bool(),
  /** "path:name"; empty with NoShare. */
  ShareFolder: str(),
  // Ours: a cloud image instead of boot2docker, and what create learnt.
  ImageURL: str(),
  UUID: str(),
  HostOnlyMAC: str(),
  /** VirtualBox 7's host-only "network" (macOS) or the older host-only "interface". */
  HostOnlyKind: v.optional(v.picklist(['interface', 'network']), 'interface'),
});
export type VirtualboxSettings = SettingsOf<typeof VirtualboxSettingsSchema>;
const D = defaultsOf(VirtualboxSettingsSchema);

// Docker Machine's flags, names, defaults and environment variables, plus --virtualbox-image-url.
export const virtualboxFlags: FlagSpec[] = [
  { name: 'virtualbox-memory', type: 'int', description: 'Size of memory for host in MB', default: D.Memory, env: 'VIRTUALBOX_MEMORY_SIZE' },
  { name: 'virtualbox-cpu-count', type: 'int', description: 'number of CPUs for the machine (-1 to use the number of CPUs available)', default: D.CPU, env: 'VIRTUALBOX_CPU_COUNT', min: -1 },
  { name: 'virtualbox-disk-size', type: 'int', description: 'Size of disk for host in MB', default: D.DiskSize, env: 'VIRTUALBOX_DISK_SIZE' },
  { name: 'virtualbox-image-url', type: 'string', description: 'Cloud image to boot (qcow2, vmdk, vdi, vhd or raw; default: Debian 12 genericcloud)', env: 'VIRTUALBOX_IMAGE_URL' },
  { name: 'virtualbox-boot2docker-url', type: 'string', description: 'Refused: boot2docker is retired; a cloud image boots instead', env: 'VIRTUALBOX_BOOT2DOCKER_URL' },
  { name: 'virtualbox-import-boot2docker-vm', type: 'string', description: 'Refused: boot2docker is retired; a cloud image boots instead', env: 'VIRTUALBOX_BOOT2DOCKER_IMPORT_VM' },
  { name: 'virtualbox-host-dns-resolver', type: 'bool', description: 'Use the host DNS resolver', env: 'VIRTUALBOX_HOST_DNS_RESOLVER' },
  { name: 'virtualbox-nat-nictype', type: 'string', description: 'Specify the Network Adapter Type', default: D.NatNicType, env: 'VIRTUALBOX_NAT_NICTYPE' },
  { name: 'virtualbox-hostonly-cidr', type: 'string', description: 'Specify the Host Only CIDR', default: D.HostOnlyCIDR, env: 'VIRTUALBOX_HOSTONLY_CIDR' },
  { name: 'virtualbox-hostonly-nictype', type: 'string', description: 'Specify the Host Only Network Adapter Type', default: D.HostOnlyNicType, env: 'VIRTUALBOX_HOSTONLY_NIC_TYPE' },
  { name: 'virtualbox-hostonly-nicpromisc', type: 'string', description: 'Specify the Host Only Network Adapter Promiscuous Mode', default: D.HostOnlyPromiscMode, env: 'VIRTUALBOX_HOSTONLY_NIC_PROMISC' },
  { name: 'virtualbox-hostonly-no-dhcp', type: 'bool', description: 'Disable the Host Only DHCP Server', env: 'VIRTUALBOX_HOSTONLY_NO_DHCP' },
  { name: 'virtualbox-ui-type', type: 'string', description: 'Specify the UI Type: (gui|sdl|headless|separate)', default: D.UIType, env: 'VIRTUALBOX_UI_TYPE' },
  { name: 'virtualbox-no-share', type: 'bool', description: 'Disable the mount of your home directory', env: 'VIRTUALBOX_NO_SHARE' },
  { name: 'virtualbox-share-folder', type: 'string', description: 'Mount the specified directory instead of the default home location. Format: dir:name', env: 'VIRTUALBOX_SHARE_FOLDER' },
  { name: 'virtualbox-no-dns-proxy', type: 'bool', description: 'Disable proxying all DNS requests to the host', env: 'VIRTUALBOX_NO_DNS_PROXY' },
  { name: 'virtualbox-no-vtx-check', type: 'bool', description: 'Disable checking for the availability of hardware virtualization before the vm is started', env: 'VIRTUALBOX_NO_VTX_CHECK' },
  { name: 'virtualbox-ssh-user', type: 'string', description: 'User cloud-init creates for SSH', default: D.SSHUser },
];

export type VirtualboxFlagSettings = Pick<
  VirtualboxSettings,
  | 'CPU' | 'Memory' | 'DiskSize' | 'ImageURL' | 'Boot2DockerURL' | 'Boot2DockerImportVM' | 'HostDNSResolver' | 'DNSProxy' | 'NatNicType'
  | 'HostOnlyCIDR' | 'HostOnlyNicType' | 'HostOnlyPromiscMode' | 'HostOnlyNoDHCP' | 'UIType' | 'NoShare' | 'ShareFolder' | 'NoVTXCheck' | 'SSHUser'
>;

function oneOf(flag: string, value: string, allowed: string[]): string {
  if (!allowed.includes(value)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, not "${value}"`);
  return value;
}

/** "a.b.c.d/n" with the host's own address on the network, as Docker Machine takes it. */
export function parseHostOnlyCidr(cidr: string): Cidr {
  const c = cidr.includes('/') ? parseCidr(cidr) : undefined;
  if (!c || c.prefix > 30 || c.prefix < 8) {
    throw new UsageError(`--virtualbox-hostonly-cidr "${cidr}" is not an IPv4 CIDR such as 192.168.99.1/24`);
  }
  return c;
}

/** "path:name" as saved; undefined when nothing is shared. */
export function parseShare(s: Pick<VirtualboxSettings, 'NoShare' | 'ShareFolder'>): { path: string; name: string } | undefined {
  if (s.NoShare || !s.ShareFolder) return undefined;
  const at = s.ShareFolder.lastIndexOf(':');
  return { path: s.ShareFolder.slice(0, at), name: s.ShareFolder.slice(at + 1) };
}

export function parseVirtualboxFlags(flags: FlagValues, cpuCount: () => number): VirtualboxFlagSettings {
  const memory = flagInt(flags['virtualbox-memory'], D.Memory);
  let cpus = flagInt(flags['virtualbox-cpu-count'], D.CPU);
  if (flags['virtualbox-cpu-count'] === -1) cpus = cpuCount();
  const diskSize = flagInt(flags['virtualbox-disk-size'], D.DiskSize);
  if (memory < 128) throw new UsageError('--virtualbox-memory is in MB and must be at least 128');
  if (cpus < 1) throw new UsageError('--virtualbox-cpu-count must be at least 1 (or -1 for every CPU)');
  if (diskSize < 1000) throw new UsageError('--virtualbox-disk-size is in MB and must be at least 1000');
  const cidr = flagString(flags['virtualbox-hostonly-cidr'], D.HostOnlyCIDR);
  parseHostOnlyCidr(cidr);
  let share: { name: string; path: string } | undefined = defaultShare();
  const custom = flagString(flags['virtualbox-share-folder']);
  if (custom) {
    // "dir:name"; a Windows path has a colon of its own after the drive letter.
    const at = custom.lastIndexOf(':');
    if (at <= 1) throw new UsageError(`--virtualbox-share-folder "${custom}" must be dir:name`);
    share = { path: custom.slice(0, at), name: custom.slice(at + 1) };
  }
  if (flags['virtualbox-no-share'] === true) share = undefined;
  // boot2docker is retired, and its engine cannot be provisioned the way every other host is
  // (no systemd, no package manager): refused before anything is made, with the way forward.
  // Machines Docker Machine made from it still load, start, stop and go.
  for (const flag of ['virtualbox-boot2docker-url', 'virtualbox-import-boot2docker-vm']) {
    if (flagString(flags[flag])) throw new UsageError(`--${flag}: ${BOOT2DOCKER_RETIRED}`);
  }
  const imageUrl = flagString(flags['virtualbox-image-url']);
  return {
    Memory: memory,
    CPU: cpus,
    DiskSize: diskSize,
    ImageURL: imageUrl,
    Boot2DockerURL: '',
    Boot2DockerImportVM: '',
    HostDNSResolver: flags['virtualbox-host-dns-resolver'] === true,
    DNSProxy: flags['virtualbox-no-dns-proxy'] !== true,
    NatNicType: oneOf('virtualbox-nat-nictype', flagString(flags['virtualbox-nat-nictype'], D.NatNicType), NIC_TYPES),
    HostOnlyCIDR: cidr,
    HostOnlyNicType: oneOf('virtualbox-hostonly-nictype', flagString(flags['virtualbox-hostonly-nictype'], D.HostOnlyNicType), NIC_TYPES),
    HostOnlyPromiscMode: oneOf('virtualbox-hostonly-nicpromisc', flagString(flags['virtualbox-hostonly-nicpromisc'], D.HostOnlyPromiscMode), PROMISC),
    HostOnlyNoDHCP: flags['virtualbox-hostonly-no-dhcp'] === true,
    UIType: oneOf('virtualbox-ui-type', flagString(flags['virtualbox-ui-type'], D.UIType), UI_TYPES),
    NoShare: !share,
    ShareFolder: share ? `${share.path}:${share.name}` : '',
    NoVTXCheck: flags['virtualbox-no-vtx-check'] === true,
    SSHUser: flagString(flags['virtualbox-ssh-user'], D.SSHUser) || D.SSHUser,
  };
}
