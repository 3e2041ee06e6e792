import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { DriverError, UsageError } from '../../errors.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';
import { machineFiles } from '../../store/machine-files.js';
import { cacheDir } from '../../store/paths.js';
import { findOnPath } from '../../sys/which.js';
import { builtinModule, machineFields } from '../base.js';
import type { Driver, DriverContext, FlagValues, MachineState } from '../driver.js';
import { newSettings } from '../settings.js';
import { freePort, portFree } from '../tcp.js';
import { AARCH64_FIRMWARE, macFor, qemuArgs, type Accel } from './args.js';
import { QemuSettingsSchema, parseQemuFlags, qemuFlags, type QemuSettings } from './flags.js';

const run = promisify(execFile);
const ENGINE_PORT = DEFAULT_ENGINE_PORT;

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
class QemuDriver implements Driver<QemuSettings> {
  readonly name = 'qemu';
  readonly provisionable = true;

  describeRemoval(): string {
    return `the QEMU virtual machine and its disk in ${this.ctx.machineDir}`;
  }
  readonly sshKeySettleMs = 10 * 60_000;
  private cfg: QemuSettings;
  private readonly files: ReturnType<typeof machineFiles>;

  constructor(
    private readonly ctx: DriverContext,
    saved?: QemuSettings,
  ) {
    this.files = machineFiles(ctx.machineDir);
    this.cfg =
      saved ??
      newSettings(QemuSettingsSchema, {
        ...machineFields(ctx),
        DiskPath: this.files.qcow2Disk,
        SeedPath: this.files.seedIso,
      });
  }

  config(): QemuSettings {
    return this.cfg;
  }

  setConfigFromFlags(flags: FlagValues): void {
    Object.assign(this.cfg, parseQemuFlags(flags), { SSHKeyPath: this.files.sshKey });
  }

  private binary(): string {
    const b = findOnPath(this.cfg.Binary);
    if (!b) throw missingQemu(this.cfg.Binary);
    return b;
  }

  async preCreateCheck(): Promise<void> {
    this.binary();
    if (!findOnPath('qemu-img')) throw missingQemu('qemu-img');
    for (const [flag, path] of [['--qemu-image', this.cfg.ImagePath], ['--qemu-kernel', this.cfg.Kernel], ['--qemu-initrd', this.cfg.Initrd], ['--qemu-userdata', this.cfg.UserDataFile]] as const) {
      if (path && !existsSync(path)) throw new UsageError(`${flag} "${path}" does not exist`);
    }
  }

  async create(): Promise<void> {
    const { chooseAccel } = await import('./accel.js');
    const choice = await chooseAccel(this.cfg.Accel as 'auto' | Accel, this.binary());
    if (choice.warning) this.ctx.log.info(`Warning: ${choice.warning}`);
    this.cfg.Accel = choice.accel;

    let base = this.cfg.ImagePath;
    if (!base) {
      const { cachedImage, DEFAULT_IMAGE_URL } = await import('../../images/download.js');
      const url = this.cfg.ImageURL || DEFAULT_IMAGE_URL;
      base = await cachedImage({
        url,
        cacheDir: cacheDir(this.ctx.storePath),
        log: this.ctx.log,
        ...(this.cfg.ChecksumURL ? { sumsUrl: this.cfg.ChecksumURL } : {}),
      });
      this.cfg.ImagePath = base;
    }
    const info = JSON.parse((await run('qemu-img', ['info', '--output', 'json', base])).stdout) as { format: string };
    this.ctx.log.debug(`qemu-img create -f qcow2 -F ${info.format} -b ${base} ${this.cfg.DiskPath} ${this.cfg.DiskSize}M`);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', info.format, '-b', base, this.cfg.DiskPath, `${this.cfg.DiskSize}M`]);

    const { generateKeyPair } = await import('../../ssh/keys.js');
    const { publicKey } = await generateKeyPair(this.cfg.SSHKeyPath, `machine-${this.ctx.machineName}`);
    const { buildSeed } = await import('../../images/seed.js');
    const { writeFile } = await import('node:fs/promises');
    const nics: Array<{ mac: string; address?: string }> = [{ mac: macFor(this.ctx.machineName, 0) }];
    if (this.cfg.Network === 'socket-mcast') nics.push({ mac: macFor(this.ctx.machineName, 1), address: this.cfg.PrivateAddress });
    await writeFile(
      this.cfg.SeedPath,
      buildSeed({
        hostname: this.ctx.machineName,
        user: this.cfg.SSHUser,
        publicKey,
        ...(this.cfg.UserDataFile ? { userData: readFileSync(this.cfg.UserDataFile, 'utf8') } : {}),
        nics,
      }),
    );
    await this.start();
  }

  private pid(): number {
    try {
      return Number(readFileSync(this.files.qemuPid, 'utf8').trim());
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
    if (!this.cfg.HostEnginePort || !(await portFree(this.cfg.HostEnginePort))) this.cfg.HostEnginePort = await freePort();
    const [group, port] = this.cfg.Mcast.split(':');
    const args = qemuArgs({
      name: this.ctx.machineName,
      machineDir: this.ctx.machineDir,
      accel: this.cfg.Accel as Accel,
      cpus: this.cfg.CPUs,
      memoryMB: this.cfg.Memory,
      disk: this.cfg.DiskPath,
      seed: this.cfg.SeedPath,
      sshPort: this.cfg.SSHPort,
      enginePort: this.cfg.HostEnginePort,
      mac: macFor(this.ctx.machineName, 0),
      ...(this.cfg.Kernel ? { kernel: this.cfg.Kernel } : {}),
      ...(this.cfg.Initrd ? { initrd: this.cfg.Initrd } : {}),
      ...(this.cfg.Append ? { append: this.cfg.Append } : {}),
      ...(this.cfg.Network === 'socket-mcast' ? { mcast: { group: group!, port: Number(port), mac: macFor(this.ctx.machineName, 1) } } : {}),
      arch: this.cfg.Binary.includes('aarch64') ? 'aarch64' : 'x86_64',
      ...(this.cfg.Binary.includes('aarch64') && !this.cfg.Kernel ? { firmware: aarch64Firmware() } : {}),
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
    await qmp(this.files.qmpSocket, 'system_powerdown');
    // An ACPI shutdown takes a while under TCG; after the timeout the VM is quit.
    if (!(await this.waitExit(Number(process.env.MACHINE_QEMU_STOP_TIMEOUT ?? 120) * 1000))) await this.kill();
  }

  async kill(): Promise<void> {
    if (!this.running()) return;
    const { qmp } = await import('./qmp.js');
    await qmp(this.files.qmpSocket, 'quit').catch(() => undefined);
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
    for (const f of [this.cfg.DiskPath, this.cfg.SeedPath, this.files.qemuPid, this.files.qmpSocket]) {
      await rm(f, { force: true });
    }
  }

  async getState(): Promise<MachineState> {
    if (!this.running()) return 'Stopped';
    const { qmp } = await import('./qmp.js');
    try {
      const s = await qmp<{ status: string; running: boolean }>(this.files.qmpSocket, 'query-status', undefined, 3000);
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
    return this.cfg.PrivateAddress.split('/')[0]!;
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
  enginePort(): number {
    return ENGINE_PORT;
  }
  getSSHUsername(): string {
    return this.cfg.SSHUser || 'docker';
  }
  getSSHKeyPath(): string {
    return this.cfg.SSHKeyPath;
  }
}

export default builtinModule<QemuSettings>({
  name: 'qemu',
  schema: QemuSettingsSchema,
  flags: qemuFlags,
  newDriver: (ctx, saved) => new QemuDriver(ctx, saved),
});
