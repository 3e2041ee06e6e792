import { machineFiles } from '../../store/machine-files.js';
import { hex2, nameMacBytes } from '../mac.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';

export type Accel = 'kvm' | 'hvf' | 'tcg';

export interface QemuSpec {
  name: string;
  machineDir: string;
  accel: Accel;
  cpus: number;
  memoryMB: number;
  disk: string;
  seed: string;
  sshPort: number;
  enginePort: number;
  mac: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  /** A second NIC on a shared L2 segment between VMs (UDP multicast on loopback). */
  mcast?: { group: string; port: number; mac: string };
  arch?: 'x86_64' | 'aarch64';
  /** UEFI firmware: arm64 cloud images boot only with it. */
  firmware?: string;
}


/** The whole QEMU command line for a machine: detached, controlled through QMP. */
export function qemuArgs(spec: QemuSpec): string[] {
  const files = machineFiles(spec.machineDir);
  const arm = spec.arch === 'aarch64';
  const args = [
    '-name', `machine-${spec.name}`,
    '-machine', arm ? 'virt' : 'q35',
    '-accel', spec.accel === 'tcg' ? 'tcg,thread=multi' : spec.accel,
    '-cpu', spec.accel === 'tcg' ? 'max' : 'host',
    '-smp', String(spec.cpus),
    '-m', String(spec.memoryMB),
    '-drive', `if=virtio,file=${spec.disk},format=qcow2,discard=unmap`,
    '-drive', `if=virtio,file=${spec.seed},format=raw,readonly=on`,
    '-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${spec.sshPort}-:22,hostfwd=tcp:127.0.0.1:${spec.enginePort}-:${DEFAULT_ENGINE_PORT}`,
    '-device', `virtio-net-pci,netdev=net0,mac=${spec.mac}`,
  ];
  if (spec.firmware) args.push('-bios', spec.firmware);
  if (spec.mcast) {
    args.push(
      '-netdev', `socket,id=net1,mcast=${spec.mcast.group}:${spec.mcast.port},localaddr=127.0.0.1`,
      '-device', `virtio-net-pci,netdev=net1,mac=${spec.mcast.mac}`,
    );
  }
  if (spec.kernel) {
    args.push('-kernel', spec.kernel);
    if (spec.initrd) args.push('-initrd', spec.initrd);
    args.push('-append', spec.append ?? 'console=ttyS0 root=/dev/vda rw');
  }
  args.push(
    '-device', 'virtio-rng-pci',
    '-display', 'none',
    '-serial', `file:${files.serialLog}`,
    '-qmp', `unix:${files.qmpSocket},server=on,wait=off`,
    '-pidfile', files.qemuPid,
    '-daemonize',
  );
  return args;
}

/** Where distributions and Homebrew put the arm64 UEFI firmware. */
export const AARCH64_FIRMWARE = [
  '/usr/share/qemu-efi-aarch64/QEMU_EFI.fd',
  '/usr/share/AAVMF/AAVMF_CODE.fd',
  '/opt/homebrew/share/qemu/edk2-aarch64-code.fd',
  '/usr/local/share/qemu/edk2-aarch64-code.fd',
];

/** A locally administered MAC derived from the machine name, stable across restarts. */
export function macFor(name: string, nic: number): string {
  return [0x52, 0x54, 0x00, ...nameMacBytes(name, nic)].map(hex2).join(':');
}
