import { arch } from 'node:os';
import { UsageError } from '../../errors.js';
import { parseCidr } from '../../net/ipv4.js';
import { flagInt, flagString } from '../base.js';
import type { FlagSpec, FlagValues } from '../driver.js';
import { defaultsOf, int, settingsSchema, str, type SettingsOf } from '../settings.js';

export function defaultBinary(): string {
  return arch() === 'arm64' ? 'qemu-system-aarch64' : 'qemu-system-x86_64';
}

export const ACCELS = ['auto', 'kvm', 'hvf', 'tcg'] as const;
export const NETWORKS = ['user', 'socket-mcast'] as const;

/** What config.json keeps of a qemu machine. */
export const QemuSettingsSchema = settingsSchema({
  IPAddress: str('127.0.0.1'),
  SSHUser: str('docker'),
  Binary: str(defaultBinary()),
  ImageURL: str(),
  /** The base image: --qemu-image, or the downloaded one in the cache. */
  ImagePath: str(),
  ChecksumURL: str(),
  DiskPath: str(),
  SeedPath: str(),
  /** MB */
  DiskSize: int(20000),
  CPUs: int(2),
  /** MB */
  Memory: int(2048),
  /** What was asked for until create; then the accelerator chosen. */
  Accel: str('auto'),
  Kernel: str(),
  Initrd: str(),
  Append: str(),
  UserDataFile: str(),
  Network: str('user'),
  Mcast: str('230.0.0.1:21234'),
  PrivateAddress: str(),
  /** The host port forwarded to the engine's port in the VM. */
  HostEnginePort: int(0),
});
export type QemuSettings = SettingsOf<typeof QemuSettingsSchema>;
const D = defaultsOf(QemuSettingsSchema);

export const qemuFlags: FlagSpec[] = [
  { name: 'qemu-image-url', type: 'string', description: 'Cloud image to boot (default: Debian 12 genericcloud amd64)', env: 'QEMU_IMAGE_URL' },
  { name: 'qemu-image-checksum-url', type: 'string', description: 'Checksum file for the image (default: SHA512SUMS/SHA256SUMS beside it)' },
  { name: 'qemu-image', type: 'string', description: 'Local qcow2/raw image to boot instead of downloading one', env: 'QEMU_IMAGE' },
  { name: 'qemu-disk-size', type: 'int', description: 'Disk size in MB (a copy-on-write overlay of the image)', default: D.DiskSize },
  { name: 'qemu-cpus', type: 'int', description: 'Virtual CPUs', default: D.CPUs },
  { name: 'qemu-memory', type: 'int', description: 'Memory in MB', default: D.Memory },
  { name: 'qemu-accel', type: 'string', description: 'auto, kvm, hvf or tcg (auto falls back to TCG with a warning)', default: D.Accel },
  { name: 'qemu-kernel', type: 'string', description: 'Kernel for direct kernel boot' },
  { name: 'qemu-initrd', type: 'string', description: 'Initrd for direct kernel boot' },
  { name: 'qemu-append', type: 'string', description: 'Kernel command line for direct kernel boot', default: D.Append },
  { name: 'qemu-userdata', type: 'string', description: 'Extra cloud-init user-data (cloud-config or script) added to the seed' },
  { name: 'qemu-ssh-user', type: 'string', description: 'User cloud-init creates for SSH', default: D.SSHUser },
  { name: 'qemu-network', type: 'string', description: 'user, or socket-mcast for a private network between qemu machines', default: D.Network },
  { name: 'qemu-mcast', type: 'string', description: 'Multicast group:port of the private network', default: D.Mcast },
  { name: 'qemu-private-address', type: 'string', description: 'Static address/prefix on the private network, e.g. 10.77.0.11/24' },
  { name: 'qemu-binary', type: 'string', description: 'QEMU system emulator', default: D.Binary },
];

export type QemuFlagSettings = Pick<
  QemuSettings,
  'Binary' | 'ImageURL' | 'ImagePath' | 'ChecksumURL' | 'DiskSize' | 'CPUs' | 'Memory' | 'Accel' | 'Kernel' | 'Initrd' | 'Append' | 'UserDataFile' | 'SSHUser' | 'Network' | 'Mcast' | 'PrivateAddress'
>;

/** Every check that needs nothing installed, so bad input fails before anything is made. */
export function parseQemuFlags(flags: FlagValues): QemuFlagSettings {
  const s: QemuFlagSettings = {
    Binary: flagString(flags['qemu-binary'], D.Binary) || D.Binary,
    ImageURL: flagString(flags['qemu-image-url']),
    ImagePath: flagString(flags['qemu-image']),
    ChecksumURL: flagString(flags['qemu-image-checksum-url']),
    DiskSize: flagInt(flags['qemu-disk-size'], D.DiskSize),
    CPUs: flagInt(flags['qemu-cpus'], D.CPUs),
    Memory: flagInt(flags['qemu-memory'], D.Memory),
    Accel: flagString(flags['qemu-accel'], D.Accel),
    Kernel: flagString(flags['qemu-kernel']),
    Initrd: flagString(flags['qemu-initrd']),
    Append: flagString(flags['qemu-append']),
    UserDataFile: flagString(flags['qemu-userdata']),
    SSHUser: flagString(flags['qemu-ssh-user'], D.SSHUser) || D.SSHUser,
    Network: flagString(flags['qemu-network'], D.Network),
    Mcast: flagString(flags['qemu-mcast'], D.Mcast),
    PrivateAddress: flagString(flags['qemu-private-address']),
  };
  if (!(ACCELS as readonly string[]).includes(s.Accel)) throw new UsageError(`--qemu-accel must be auto, kvm, hvf or tcg, not "${s.Accel}"`);
  if (!(NETWORKS as readonly string[]).includes(s.Network)) throw new UsageError(`--qemu-network must be user or socket-mcast, not "${s.Network}"`);
  if (s.Network === 'socket-mcast' && !(s.PrivateAddress.includes('/') && parseCidr(s.PrivateAddress))) {
    throw new UsageError('--qemu-network socket-mcast needs --qemu-private-address, e.g. 10.77.0.11/24 (a different one for each machine)');
  }
  if (s.Initrd && !s.Kernel) throw new UsageError('--qemu-initrd needs --qemu-kernel');
  if (s.DiskSize < 1000) throw new UsageError('--qemu-disk-size is in MB and must be at least 1000');
  return s;
}
