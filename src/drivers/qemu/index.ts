import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DriverError, UsageError } from '../../errors.js';
import { baseDriverConfig, flagInt, flagString } from '../base.js';
import type { Driver, DriverConfig, DriverContext, DriverModule, FlagValues, MachineState } from '../driver.js';
import { freePort, portFree } from '../tcp.js';
import { AARCH64_FIRMWARE, macFor, pidFile, qemuArgs, qmpSocket, type Accel } from './args.js';

const run = promisify(execFile);
const ENGINE_PORT = 2376;

function defaultBinary(): string {
  return arch() === 'arm64' ? 'qemu-system-aarch64' : 'qemu-system-x86_64';
}

function findOnPath(cmd: string): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

function aarch64Firmware(): string {
  const found = AARCH64_FIRMWARE.find((p) => existsSync(p));
  if (!found) throw new DriverError('No arm64 UEFI firmware found: install qemu-efi-aarch64 (Debian/Ubuntu) or QEMU from Homebrew');
  return found;
}

function missingQemu(binary: string): DriverError {
  return new DriverError(
    `${binary} not found: install QEMU (Debian/Ubuntu: apt-get install qemu-system-x86 qemu-utils; Fedora: dnf install qemu-kvm qemu-img; macOS: brew install qemu)`,
  );
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A daemonized QEMU that was killed stays a zombie until its new parent reaps it.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Local VMs from cloud images, with KVM or HVF, or TCG where neither works. */
class QemuDriver implements Driver {
  readonly name = 'qemu';
  readonly provisionable = true;
  readonly sshKeySettleMs = 10 * 60_000;
  private cfg: DriverConfig;

  constructor(
    private readonly ctx: DriverContext,
    saved?: DriverConfig,
  ) {
    this.cfg = saved ?? {
      ...baseDriverConfig(ctx),
      IPAddress: '127.0.0.1',
      SSHUser: 'docker',
      Binary: defaultBinary(),
      ImageURL: '',
      ImagePath: '',
      DiskPath: join(ctx.machineDir, 'disk.qcow2'),
      SeedPath: join(ctx.machineDir, 'seed.iso'),
      DiskSize: 20000,
      CPUs: 2,
      Memory: 2048,
      Accel: 'auto',
      Kernel: '',
      Initrd: '',
      Append: '',
      Network: 'user',
      Mcast: '',
      PrivateAddress: '',
      EnginePort: ENGINE_PORT,
      HostEnginePort: 0,
    };
  }

  config(): DriverConfig {
    return this.cfg;
  }

  setConfigFromFlags(flags: FlagValues): void {
    const c = this.cfg;
    c.Binary = flagString(flags['qemu-binary'], defaultBinary());
    c.ImageURL = flagString(flags['qemu-image-url']);
    c.ImagePath = flagString(flags['qemu-image']);
    c.ChecksumURL = flagString(flags['qemu-image-checksum-url']);
    c.DiskSize = flagInt(flags['qemu-disk-size'], 20000);
    c.CPUs = flagInt(flags['qemu-cpus'], 2);
    c.Memory = flagInt(flags['qemu-memory'], 2048);
    const accel = flagString(flags['qemu-accel'], 'auto');
    if (!['auto', 'kvm', 'hvf', 'tcg'].includes(accel)) throw new UsageError(`--qemu-accel must be auto, kvm, hvf or tcg, not "${accel}"`);
    c.Accel = accel;
    c.Kernel = flagString(flags['qemu-kernel']);
    c.Initrd = flagString(flags['qemu-initrd']);
    c.Append = flagString(flags['qemu-append']);
    c.UserDataFile = flagString(flags['qemu-userdata']);
    c.SSHUser = flagString(flags['qemu-ssh-user'], 'docker');
    const network = flagString(flags['qemu-network'], 'user');
    if (network !== 'user' && network !== 'socket-mcast') throw new UsageError(`--qemu-network must be user or socket-mcast, not "${network}"`);
    c.Network = network;
    c.Mcast = flagString(flags['qemu-mcast'], '230.0.0.1:21234');
    c.PrivateAddress = flagString(flags['qemu-private-address']);
    if (network === 'socket-mcast' && !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(String(c.PrivateAddress))) {
      throw new UsageError('--qemu-network socket-mcast needs --qemu-private-address, e.g. 10.77.0.11/24 (a different one for each machine)');
    }
    if (c.Initrd && !c.Kernel) throw new UsageError('--qemu-initrd needs --qemu-kernel');
    if (Number(c.DiskSize) < 1000) throw new UsageError('--qemu-disk-size is in MB and must be at least 1000');
    c.SSHKeyPath = join(this.ctx.machineDir, 'id_ed25519');
  }

  private binary(): string {
    const b = findOnPath(String(this.cfg.Binary));
    if (!b) throw missingQemu(String(this.cfg.Binary));
    return b;
  }

  async preCreateCheck(): Promise<void> {
    this.binary();
    if (!findOnPath('qemu-img')) throw missingQemu('qemu-img');
    for (const [flag, path] of [['--qemu-image', this.cfg.ImagePath], ['--qemu-kernel', this.cfg.Kernel], ['--qemu-initrd', this.cfg.Initrd], ['--qemu-userdata', this.cfg.UserDataFile]] as const) {
      if (path && !existsSync(String(path))) throw new UsageError(`${flag} "${String(path)}" does not exist`);
    }
  }

  async create(): Promise<void> {
    const { chooseAccel } = await import('./accel.js');
    const choice = await chooseAccel(this.cfg.Accel as 'auto' | Accel, this.binary());
    if (choice.warning) this.ctx.log.info(`Warning: ${choice.warning}`);
    this.cfg.Accel = choice.accel;

    let base = String(this.cfg.ImagePath);
    if (!base) {
      const { cachedImage, DEFAULT_IMAGE_URL } = await import('../../images/download.js');
      const url = String(this.cfg.ImageURL || DEFAULT_IMAGE_URL);
      base = await cachedImage({
        url,
        cacheDir: process.env.MACHINE_CACHE_DIR || join(this.ctx.storePath, 'cache'),
        log: this.ctx.log,
        ...(this.cfg.ChecksumURL ? { sumsUrl: String(this.cfg.ChecksumURL) } : {}),
      });
      this.cfg.ImagePath = base;
    }
    const info = JSON.parse((await run('qemu-img', ['info', '--output', 'json', base])).stdout) as { format: string };
    this.ctx.log.debug(`qemu-img create -f qcow2 -F ${info.format} -b ${base} ${this.cfg.DiskPath} ${this.cfg.DiskSize}M`);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', info.format, '-b', base, String(this.cfg.DiskPath), `${this.cfg.DiskSize}M`]);

    const { generateKeyPair } = await import('../../ssh/keys.js');
    const { publicKey } = await generateKeyPair(this.cfg.SSHKeyPath, `machine-${this.ctx.machineName}`);
    const { buildSeed } = await import('../../images/seed.js');
    const { writeFile } = await import('node:fs/promises');
    const nics: Array<{ mac: string; address?: string }> = [{ mac: macFor(this.ctx.machineName, 0) }];
    if (this.cfg.Network === 'socket-mcast') nics.push({ mac: macFor(this.ctx.machineName, 1), address: String(this.cfg.PrivateAddress) });
    await writeFile(
      String(this.cfg.SeedPath),
      buildSeed({
        hostname: this.ctx.machineName,
        user: this.cfg.SSHUser,
        publicKey,
        ...(this.cfg.UserDataFile ? { userData: readFileSync(String(this.cfg.UserDataFile), 'utf8') } : {}),
        nics,
      }),
    );
    await this.start();
  }

  private pid(): number {
    try {
      return Number(readFileSync(pidFile(this.ctx.machineDir), 'utf8').trim());
    } catch {
      return 0;
    }
  }

  private running(): boolean {
    const pid = this.pid();
    return pid > 0 && pidAlive(pid);
  }

  async start(): Promise<void> {
    if (this.running()) return;
    // Ports are kept across restarts when still free, so URLs and known_hosts stay put.
    if (!this.cfg.SSHPort || this.cfg.SSHPort === 22 || !(await portFree(this.cfg.SSHPort))) this.cfg.SSHPort = await freePort();
    if (!this.cfg.HostEnginePort || !(await portFree(Number(this.cfg.HostEnginePort)))) this.cfg.HostEnginePort = await freePort();
    const [group, port] = String(this.cfg.Mcast).split(':');
    const args = qemuArgs({
      name: this.ctx.machineName,
      machineDir: this.ctx.machineDir,
      accel: this.cfg.Accel as Accel,
      cpus: Number(this.cfg.CPUs),
      memoryMB: Number(this.cfg.Memory),
      disk: String(this.cfg.DiskPath),
      seed: String(this.cfg.SeedPath),
      sshPort: this.cfg.SSHPort,
      enginePort: Number(this.cfg.HostEnginePort),
      mac: macFor(this.ctx.machineName, 0),
      ...(this.cfg.Kernel ? { kernel: String(this.cfg.Kernel) } : {}),
      ...(this.cfg.Initrd ? { initrd: String(this.cfg.Initrd) } : {}),
      ...(this.cfg.Append ? { append: String(this.cfg.Append) } : {}),
      ...(this.cfg.Network === 'socket-mcast' ? { mcast: { group: group!, port: Number(port), mac: macFor(this.ctx.machineName, 1) } } : {}),
      arch: String(this.cfg.Binary).includes('aarch64') ? 'aarch64' : 'x86_64',
      ...(String(this.cfg.Binary).includes('aarch64') && !this.cfg.Kernel ? { firmware: aarch64Firmware() } : {}),
    });
    this.ctx.log.debug(`${this.binary()} ${args.join(' ')}`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(this.binary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      // -daemonize: the parent exits once the VM runs in the background.
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new DriverError(`QEMU failed to start (exit ${code}): ${err.trim().split('\n').pop()}`))));
    });
  }

  private async waitExit(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (!this.running()) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return !this.running();
  }

  async stop(): Promise<void> {
    if (!this.running()) return;
    const { qmp } = await import('./qmp.js');
    await qmp(qmpSocket(this.ctx.machineDir), 'system_powerdown');
    // An ACPI shutdown takes a while under TCG; after the timeout the VM is quit.
    if (!(await this.waitExit(Number(process.env.MACHINE_QEMU_STOP_TIMEOUT ?? 120) * 1000))) await this.kill();
  }

  async kill(): Promise<void> {
    if (!this.running()) return;
    const { qmp } = await import('./qmp.js');
    await qmp(qmpSocket(this.ctx.machineDir), 'quit').catch(() => undefined);
    if (!(await this.waitExit(5000))) process.kill(this.pid(), 'SIGKILL');
    await this.waitExit(5000);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async remove(): Promise<void> {
    await this.kill();
    const { rm } = await import('node:fs/promises');
    for (const f of [this.cfg.DiskPath, this.cfg.SeedPath, pidFile(this.ctx.machineDir), qmpSocket(this.ctx.machineDir)]) {
      await rm(String(f), { force: true });
    }
  }

  async getState(): Promise<MachineState> {
    if (!this.running()) return 'Stopped';
    const { qmp } = await import('./qmp.js');
    try {
      const s = await qmp<{ status: string; running: boolean }>(qmpSocket(this.ctx.machineDir), 'query-status', undefined, 3000);
      if (s.running) return 'Running';
      if (s.status === 'paused') return 'Paused';
      if (s.status === 'shutdown') return 'Stopping';
      return 'Stopped';
    } catch {
      return 'Error';
    }
  }

  async getIP(): Promise<string> {
    return '127.0.0.1';
  }
  async getPrivateIP(): Promise<string> {
    if (this.cfg.Network !== 'socket-mcast') {
      throw new DriverError(`Machine "${this.ctx.machineName}" has no private network: create it with --qemu-network socket-mcast for swarm mode between qemu machines`);
    }
    return String(this.cfg.PrivateAddress).split('/')[0]!;
  }
  async getURL(): Promise<string> {
    return `tcp://127.0.0.1:${this.cfg.HostEnginePort}`;
  }
  async getSSHHostname(): Promise<string> {
    return '127.0.0.1';
  }
  async getSSHPort(): Promise<number> {
    return this.cfg.SSHPort;
  }
  getSSHUsername(): string {
    return this.cfg.SSHUser || 'docker';
  }
  getSSHKeyPath(): string {
    return this.cfg.SSHKeyPath;
  }
}

const qemu: DriverModule = {
  name: 'qemu',
  flags: [
    { name: 'qemu-image-url', type: 'string', description: 'Cloud image to boot (default: Debian 12 genericcloud amd64)', env: 'QEMU_IMAGE_URL' },
    { name: 'qemu-image-checksum-url', type: 'string', description: 'Checksum file for the image (default: SHA512SUMS/SHA256SUMS beside it)' },
    { name: 'qemu-image', type: 'string', description: 'Local qcow2/raw image to boot instead of downloading one', env: 'QEMU_IMAGE' },
    { name: 'qemu-disk-size', type: 'int', description: 'Disk size in MB (a copy-on-write overlay of the image)', default: 20000 },
    { name: 'qemu-cpus', type: 'int', description: 'Virtual CPUs', default: 2 },
    { name: 'qemu-memory', type: 'int', description: 'Memory in MB', default: 2048 },
    { name: 'qemu-accel', type: 'string', description: 'auto, kvm, hvf or tcg (auto falls back to TCG with a warning)', default: 'auto' },
    { name: 'qemu-kernel', type: 'string', description: 'Kernel for direct kernel boot' },
    { name: 'qemu-initrd', type: 'string', description: 'Initrd for direct kernel boot' },
    { name: 'qemu-append', type: 'string', description: 'Kernel command line for direct kernel boot', default: '' },
    { name: 'qemu-userdata', type: 'string', description: 'Extra cloud-init user-data (cloud-config or script) added to the seed' },
    { name: 'qemu-ssh-user', type: 'string', description: 'User cloud-init creates for SSH', default: 'docker' },
    { name: 'qemu-network', type: 'string', description: 'user, or socket-mcast for a private network between qemu machines', default: 'user' },
    { name: 'qemu-mcast', type: 'string', description: 'Multicast group:port of the private network', default: '230.0.0.1:21234' },
    { name: 'qemu-private-address', type: 'string', description: 'Static address/prefix on the private network, e.g. 10.77.0.11/24' },
    { name: 'qemu-binary', type: 'string', description: 'QEMU system emulator', default: defaultBinary() },
  ],
  newDriver: (ctx, saved) => new QemuDriver(ctx, saved),
};
export default qemu;
