import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus as hostCpus } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DriverError, HostNotRunningError, progName, UsageError } from '../../errors.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';
import { machineFiles } from '../../store/machine-files.js';
import { cacheDir } from '../../store/paths.js';
import { builtinModule, machineFields } from '../base.js';
import type { Driver, DriverContext, FlagValues, MachineState } from '../driver.js';
import { hex2, nameMacBytes } from '../mac.js';
import { newSettings } from '../settings.js';
import { VirtualboxSettingsSchema, parseShare, parseVirtualboxFlags, virtualboxFlags, type VirtualboxSettings } from './flags.js';
import { chooseHostOnly, chooseHostOnlyNet, ensureHostOnly, ensureHostOnlyNet, fixedAddress, hostInterfaces, hostOnlyKind, hostOnlyPlan } from './network.js';
import { parseGuestProperty, parseHostOnlyIfs, parseHostOnlyNets, parseHwVirt, parseMachineReadable, parseNatRules, parseVersion, parseVmList } from './parse.js';
import { vboxManage, VBoxManageError, type VBoxManage } from './vboxmanage.js';

const ENGINE_PORT = DEFAULT_ENGINE_PORT;
const CONTROLLER = 'SATA';
const VTX_DISABLED = /VERR_VMX_MSR_ALL_VMX_DISABLED|VERR_VMX_MSR_VMX_DISABLED|VERR_SVM_DISABLED|VERR_VMX_NO_VMX|VERR_SVM_NO_SVM|VT-x is disabled|AMD-V is disabled|VT-x is not available|AMD-V is not available/;
const VTX_MESSAGE = "This computer doesn't have VT-X/AMD-v enabled. Enabling it in the BIOS is mandatory";

/** VirtualBox's MACs start 08:00:27; the rest comes from the machine's name, so a rebuilt VM keeps its leases. */
export function vboxMac(name: string, nic: number): string {
  return [0x08, 0x00, 0x27, ...nameMacBytes(name, nic)].map(hex2).join('').toUpperCase();
}
const colonMac = (mac: string) => mac.toLowerCase().replace(/(..)(?!$)/g, '$1:');

function localPath(urlOrPath: string): string | undefined {
  if (urlOrPath.startsWith('file://')) return fileURLToPath(urlOrPath);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(urlOrPath)) return urlOrPath;
  return undefined;
}

/**
 * A Docker host as a VirtualBox VM booted from a cloud image with a NoCloud seed. VMs Docker
 * Machine made from boot2docker (its disk.vmdk and ISO) are still started, stopped and removed.
 */
class VirtualboxDriver implements Driver<VirtualboxSettings> {
  readonly name = 'virtualbox';
  readonly provisionable = true;

  describeRemoval(): string {
    return `the VirtualBox VM ${this.config().MachineName} and its disk`;
  }
  // cloud-init installs the key during boot: sshd may turn it away for a while first.
  readonly sshKeySettleMs = 5 * 60_000;
  private cfg: VirtualboxSettings;
  private vboxClient?: VBoxManage;
  private readonly files: ReturnType<typeof machineFiles>;

  constructor(
    private readonly ctx: DriverContext,
    saved?: VirtualboxSettings,
  ) {
    this.files = machineFiles(ctx.machineDir);
    this.cfg = saved ?? newSettings(VirtualboxSettingsSchema, machineFields(ctx));
  }

  private get vbox(): VBoxManage {
    this.vboxClient ??= vboxManage((l) => this.ctx.log.debug(l));
    return this.vboxClient;
  }
  private get vm(): string {
    return this.ctx.machineName;
  }
  private get diskPath(): string {
    return this.isBoot2Docker ? this.files.vmdkDisk : this.files.vdiDisk;
  }
  private get seedPath(): string {
    return this.isBoot2Docker ? this.files.boot2dockerIso : this.files.seedIso;
  }
  /** A VM Docker Machine made from boot2docker: its files have boot2docker's names. */
  private get isBoot2Docker(): boolean {
    return Boolean(this.cfg.Boot2DockerURL || this.cfg.Boot2DockerImportVM);
  }
  private get hostOnlyMac(): string {
    return this.cfg.HostOnlyMAC || vboxMac(this.vm, 2);
  }

  config(): VirtualboxSettings {
    return this.cfg;
  }

  setConfigFromFlags(flags: FlagValues): void {
    Object.assign(this.cfg, parseVirtualboxFlags(flags, () => hostCpus().length), {
      SSHKeyPath: this.files.sshKey,
      HostOnlyMAC: vboxMac(this.vm, 2),
    });
  }

  async preCreateCheck(): Promise<void> {
    const out = await this.vbox.run(['--version']);
    const v = parseVersion(out);
    if (!v) throw new DriverError(`Could not read VirtualBox's version from "${this.vbox.path} --version" (it printed "${out.trim()}")`);
    if (v.major < 6 || (v.major === 6 && v.minor < 1)) {
      throw new DriverError(`VirtualBox 6.1 or later is needed, and ${this.vbox.path} is ${v.raw}: upgrade from https://www.virtualbox.org/wiki/Downloads`);
    }
    this.ctx.log.debug(`VirtualBox ${v.raw} at ${this.vbox.path}`);
    this.cfg.HostOnlyKind = hostOnlyKind(v.major);
    if (!this.cfg.NoVTXCheck && parseHwVirt(await this.vbox.run(['list', 'hostinfo'])) === false) {
      throw new DriverError(`${VTX_MESSAGE} (or pass --virtualbox-no-vtx-check to try anyway)`);
    }
    const vms = parseVmList(await this.vbox.run(['list', 'vms']));
    if (vms.some((m) => m.name === this.vm)) {
      throw new DriverError(`VirtualBox already has a VM named "${this.vm}": pick another machine name, or delete that VM with "VBoxManage unregistervm ${this.vm} --delete"`);
    }
    for (const [flag, url] of [['--virtualbox-boot2docker-url', this.cfg.Boot2DockerURL], ['--virtualbox-image-url', this.cfg.ImageURL]] as const) {
      const p = url ? localPath(String(url)) : undefined;
      if (p && !existsSync(p)) throw new UsageError(`${flag} "${String(url)}" does not exist`);
    }
    const share = this.share();
    if (share && !existsSync(share.path)) throw new UsageError(`--virtualbox-share-folder: ${share.path} does not exist (or pass --virtualbox-no-share)`);
    // The host-only network is checked before anything is made; it is set up at start.
    const plan = hostOnlyPlan(this.cfg.HostOnlyCIDR);
    if (this.cfg.HostOnlyKind === 'network') chooseHostOnlyNet(plan, parseHostOnlyNets(await this.vbox.run(['list', 'hostonlynets'])));
    else chooseHostOnly(plan, parseHostOnlyIfs(await this.vbox.run(['list', 'hostonlyifs'])), hostInterfaces());
  }

  private share(): { path: string; name: string } | undefined {
    return parseShare(this.cfg);
  }

  private async source(url: string): Promise<string> {
    const local = localPath(url);
    if (local) return local;
    const { cachedImage } = await import('../../images/download.js');
    return cachedImage({ url, cacheDir: cacheDir(this.ctx.storePath), log: this.ctx.log });
  }

  async create(): Promise<void> {
    const log = this.ctx.log;
    await mkdir(this.ctx.machineDir, { recursive: true });
    const { generateKeyPair } = await import('../../ssh/keys.js');
    const keyPath = this.cfg.SSHKeyPath || this.files.sshKey;
    this.cfg.SSHKeyPath = keyPath;
    const { publicKey } = await generateKeyPair(keyPath, `machine-${this.vm}`);
    const { DEFAULT_IMAGE_URL } = await import('../../images/download.js');
    const image = await this.source(this.cfg.ImageURL || DEFAULT_IMAGE_URL);
    log.info('Creating the disk image from the cloud image...');
    if (['.raw', '.img'].includes(extname(image).toLowerCase()) && !(await isQcow(image))) {
      await this.vbox.run(['convertfromraw', image, this.diskPath, '--format', 'VDI']);
    } else {
      await this.vbox.run(['clonemedium', 'disk', image, this.diskPath, '--format', 'VDI']);
    }
    await this.vbox.run(['modifymedium', 'disk', this.diskPath, '--resize', String(this.cfg.DiskSize)]);
    const { buildSeed } = await import('../../images/seed.js');
    await writeFile(
      this.seedPath,
      buildSeed({
        hostname: this.vm,
        user: this.cfg.SSHUser || 'docker',
        publicKey,
        nics: [{ mac: colonMac(vboxMac(this.vm, 1)) }, { mac: colonMac(this.hostOnlyMac), ...(this.cfg.HostOnlyNoDHCP ? { address: this.staticAddress() } : {}) }],
      }),
    );

    log.info('Creating VirtualBox VM...');
    const created = await this.vbox.run(['createvm', '--basefolder', this.ctx.machineDir, '--name', this.vm, '--register']);
    this.cfg.UUID = /UUID: ([0-9a-f-]{36})/i.exec(created)?.[1] ?? '';
    await this.vbox.run([
      'modifyvm', this.vm,
      '--ostype', 'Debian_64',
      '--firmware', 'bios',
      '--cpus', String(this.cfg.CPU),
      '--memory', String(this.cfg.Memory),
      '--acpi', 'on', '--ioapic', 'on', '--rtcuseutc', 'on', '--pae', 'on', '--hpet', 'on',
      '--hwvirtex', 'on', '--nestedpaging', 'on', '--largepages', 'on', '--vtxvpid', 'on',
      '--boot1', 'disk', '--boot2', 'dvd', '--boot3', 'none', '--boot4', 'none',
      // The console goes to a file: the first place to look when a VM does not come up.
      '--uart1', '0x3F8', '4', '--uartmode1', 'file', this.files.console,
    ]);
    await this.vbox.run([
      'modifyvm', this.vm,
      '--nic1', 'nat', '--nictype1', this.cfg.NatNicType, '--cableconnected1', 'on', '--macaddress1', vboxMac(this.vm, 1),
      '--natdnshostresolver1', this.cfg.HostDNSResolver ? 'on' : 'off',
      '--natdnsproxy1', this.cfg.DNSProxy ? 'on' : 'off',
    ]);
    await this.vbox.run(['storagectl', this.vm, '--name', CONTROLLER, '--add', 'sata', '--hostiocache', 'on', '--portcount', '2']);
    const disk = ['--type', 'hdd', '--medium', this.diskPath];
    const dvd = ['--type', 'dvddrive', '--medium', this.seedPath];
    await this.vbox.run(['storageattach', this.vm, '--storagectl', CONTROLLER, '--port', '0', '--device', '0', ...disk]);
    await this.vbox.run(['storageattach', this.vm, '--storagectl', CONTROLLER, '--port', '1', '--device', '0', ...dvd]);
    const share = this.share();
    if (share) {
      await this.vbox.run(['sharedfolder', 'add', this.vm, '--name', share.name, '--hostpath', share.path, '--automount']);
      await this.vbox.run(['setextradata', this.vm, `VBoxInternal2/SharedFoldersEnableSymlinksCreate/${share.name}`, '1']);
    }
    await this.start();
  }

  /** Without DHCP the seed gives the VM a fixed address from the lease range, picked by its name. */
  private staticAddress(): string {
    const plan = hostOnlyPlan(this.cfg.HostOnlyCIDR);
    return `${fixedAddress(plan, this.vm)}/${plan.prefix}`;
  }

  private async info(): Promise<Map<string, string> | undefined> {
    try {
      return parseMachineReadable(await this.vbox.run(['showvminfo', this.vm, '--machinereadable']));
    } catch (err) {
      if (err instanceof VBoxManageError && err.notFound) return undefined;
      throw err;
    }
  }

  async start(): Promise<void> {
    const info = await this.info();
    if (!info) throw this.gone();
    const state = info.get('VMState');
    if (state === 'running') return;
    if (state === 'paused') {
      await this.vbox.run(['controlvm', this.vm, 'resume']);
      return;
    }
    if (state !== 'saved') {
      // NICs can only change while the VM is off; a saved VM keeps what it had.
      const plan = hostOnlyPlan(this.cfg.HostOnlyCIDR);
      const log = (l: string) => this.ctx.log.info(l);
      const attach =
        this.cfg.HostOnlyKind === 'network'
          ? ['--nic2', 'hostonlynet', '--host-only-net2', await ensureHostOnlyNet(this.vbox, plan, log)]
          : ['--nic2', 'hostonly', '--hostonlyadapter2', await ensureHostOnly(this.vbox, plan, { dhcp: !this.cfg.HostOnlyNoDHCP, log })];
      await this.vbox.run([
        'modifyvm', this.vm, ...attach.slice(0, 2),
        '--nictype2', this.cfg.HostOnlyNicType, '--nicpromisc2', this.cfg.HostOnlyPromiscMode,
        ...attach.slice(2), '--cableconnected2', 'on', '--macaddress2', this.hostOnlyMac,
      ]);
      await this.forwardSsh(info);
    }
    this.ctx.log.info('Starting the VM...');
    try {
      await this.vbox.run(['startvm', this.vm, '--type', String(this.cfg.UIType || 'headless')]);
    } catch (err) {
      if (err instanceof VBoxManageError && VTX_DISABLED.test(err.stderr)) {
        const line = err.stderr.split(/\r?\n/).find((l) => VTX_DISABLED.test(l)) ?? '';
        throw new DriverError(`${VTX_MESSAGE} (VirtualBox: ${line.replace(/^VBoxManage(\.exe)?: error: /, '').trim()})`, { cause: err });
      }
      throw err;
    }
    this.ctx.log.info('Waiting for an IP...');
    await this.waitForIP(this.ctx.bootTimeoutMs ?? 120_000);
  }

  /** SSH through a NAT port forward on 127.0.0.1; the port is kept across starts while it is free. */
  private async forwardSsh(info: Map<string, string>): Promise<void> {
    const { freePort, portFree } = await import('../tcp.js');
    let port = this.cfg.SSHPort;
    if (!port || port === 22 || !(await portFree(port))) port = await freePort();
    const rule = parseNatRules(info).find((r) => r.name === 'ssh');
    if (rule && rule.hostPort === port && rule.hostIp === '127.0.0.1' && rule.guestPort === 22) {
      this.cfg.SSHPort = port;
      return;
    }
    if (rule) await this.vbox.run(['modifyvm', this.vm, '--natpf1', 'delete', 'ssh']);
    await this.vbox.run(['modifyvm', this.vm, '--natpf1', `ssh,tcp,127.0.0.1,${port},,22`]);
    this.cfg.SSHPort = port;
  }

  /**
   * The host-only address: from the guest additions when the image has them (boot2docker),
   * else asked over SSH, as the address of the NIC with the host-only adapter's MAC.
   */
  private async waitForIP(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const fromAdditions = parseGuestProperty(await this.vbox.run(['guestproperty', 'get', this.vm, '/VirtualBox/GuestInfo/Net/1/V4/IP']));
    if (fromAdditions) {
      this.cfg.IPAddress = fromAdditions;
      return;
    }
    const { waitForSsh, SshDisconnectedError } = await import('../../ssh/index.js');
    const target = { host: '127.0.0.1', port: this.cfg.SSHPort, user: this.getSSHUsername(), privateKeyPath: this.getSSHKeyPath() };
    const mac = colonMac(this.hostOnlyMac);
    const started = Date.now();
    for (;;) {
      let session;
      try {
        session = await waitForSsh(target, {
          hostKey: { machine: this.vm, knownHostsPath: this.files.knownHosts, mode: 'pin-on-first-use' },
          debug: (l) => this.ctx.log.debug(l),
          timeoutMs: Math.max(1000, deadline - Date.now()),
          authSettleMs: Math.max(0, this.sshKeySettleMs - (Date.now() - started)),
        });
      } catch (err) {
        throw new DriverError(
          `VM "${this.vm}" did not answer SSH on 127.0.0.1:${target.port} within ${Math.round(timeoutMs / 1000)} s (${(err as Error).message.split(':')[0]}): see its console in ${this.files.console}`,
          { cause: err },
        );
      }
      try {
        const ip = addressOf(mac, (await session.exec('ip -o link show; echo @@addr; ip -o -4 addr show')).stdout);
        if (ip) {
          this.cfg.IPAddress = ip;
          return;
        }
      } catch (err) {
        // First boot restarts sshd (cloud-init's ssh module): connect again.
        if (!(err instanceof SshDisconnectedError)) throw err;
      } finally {
        session.close();
      }
      if (Date.now() > deadline) {
        throw new DriverError(`VM "${this.vm}" has no address on its host-only adapter (MAC ${mac}) after ${Math.round(timeoutMs / 1000)} s: check the DHCP server of --virtualbox-hostonly-cidr ${this.cfg.HostOnlyCIDR}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private gone(): DriverError {
    return new DriverError(`VirtualBox has no VM named "${this.vm}" any more: remove the machine with "${progName()} rm -f ${this.vm}"`);
  }

  private async vmState(): Promise<string | undefined> {
    return (await this.info())?.get('VMState');
  }

  async stop(): Promise<void> {
    const state = await this.vmState();
    if (state === undefined) throw this.gone();
    if (state !== 'running' && state !== 'paused') return;
    await this.vbox.run(['controlvm', this.vm, 'acpipowerbutton']);
    const timeoutMs = Number(process.env.MACHINE_VIRTUALBOX_STOP_TIMEOUT ?? 90) * 1000;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.vmState()) !== 'running') return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    this.ctx.log.info(`The VM did not shut down within ${timeoutMs / 1000} s of the ACPI power button: powering it off`);
    await this.vbox.run(['controlvm', this.vm, 'poweroff']);
  }

  async kill(): Promise<void> {
    const state = await this.vmState();
    if (state === undefined) throw this.gone();
    if (['running', 'paused', 'stuck', 'starting', 'stopping'].includes(state)) await this.vbox.run(['controlvm', this.vm, 'poweroff']);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Whatever create got to: the VM and its files, or only the disk it had cloned. */
  async remove(): Promise<void> {
    const state = await this.vmState();
    if (state !== undefined) {
      if (['running', 'paused', 'stuck', 'starting', 'stopping'].includes(state)) await this.vbox.run(['controlvm', this.vm, 'poweroff']);
      await this.vbox.run(['unregistervm', this.vm, '--delete']);
    } else if (existsSync(this.diskPath)) {
      await this.vbox.run(['closemedium', 'disk', this.diskPath, '--delete']).catch(() => undefined);
    }
    await rm(this.diskPath, { force: true });
  }

  async getState(): Promise<MachineState> {
    const state = await this.vmState();
    switch (state) {
      case undefined:
        throw this.gone();
      case 'running':
        return 'Running';
      case 'paused':
        return 'Paused';
      case 'saved':
        return 'Saved';
      case 'poweroff':
      case 'aborted':
        return 'Stopped';
      case 'stopping':
        return 'Stopping';
      case 'starting':
      case 'restoring':
        return 'Starting';
      default:
        return 'Error';
    }
  }

  async getIP(): Promise<string> {
    if (!this.cfg.IPAddress) throw new HostNotRunningError(this.vm);
    return this.cfg.IPAddress;
  }
  async getURL(): Promise<string> {
    return `tcp://${await this.getIP()}:${ENGINE_PORT}`;
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

/** The IPv4 address of the interface with this MAC, from `ip -o link` and `ip -o -4 addr` output. */
export function addressOf(mac: string, out: string): string | undefined {
  const [links = '', addrs = ''] = out.split('@@addr');
  let dev: string | undefined;
  for (const m of links.matchAll(/^\d+:\s+([^:@\s]+)[^\n]*link\/ether ([0-9a-f:]+)/gm)) if (m[2] === mac) dev = m[1];
  if (!dev) return undefined;
  return new RegExp(`^\\d+:\\s+${dev.replace(/[.]/g, '\\.')}\\s+inet (\\d+\\.\\d+\\.\\d+\\.\\d+)/`, 'm').exec(addrs)?.[1];
}

async function isQcow(path: string): Promise<boolean> {
  const { open } = await import('node:fs/promises');
  const f = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    await f.read(buf, 0, 4, 0);
    return buf.toString('latin1') === 'QFI\xfb';
  } finally {
    await f.close();
  }
}

export default builtinModule<VirtualboxSettings>({
  name: 'virtualbox',
  schema: VirtualboxSettingsSchema,
  flags: virtualboxFlags,
  newDriver: (ctx, saved) => new VirtualboxDriver(ctx, saved),
});
