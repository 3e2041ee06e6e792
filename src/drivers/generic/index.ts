import { existsSync } from 'node:fs';
import { DriverError, UsageError } from '../../errors.js';
import { builtinModule, machineFields } from '../base.js';
import type { Driver, DriverContext, FlagValues, MachineState } from '../driver.js';
import { machineFiles } from '../../store/machine-files.js';
import { newSettings } from '../settings.js';
import { tcpReachable } from '../tcp.js';
import { GenericSettingsSchema, genericFlags, parseGenericFlags, type GenericSettings } from './flags.js';

const STATE_TIMEOUT_MS = 3_000;

/** Any host already reachable over SSH; the driver only records how to reach it. */
class GenericDriver implements Driver<GenericSettings> {
  readonly name = 'generic';
  readonly provisionable = true;
  readonly urlFromRecord = true;

  describeRemoval(): string {
    return `the record only: the host ${this.config().IPAddress} and its engine stay`;
  }
  readonly existingHost = true;
  readonly powerControl = false;
  private cfg: GenericSettings;

  constructor(private readonly ctx: DriverContext, saved?: GenericSettings) {
    this.cfg = saved ?? newSettings(GenericSettingsSchema, machineFields(ctx));
  }

  config(): GenericSettings {
    return this.cfg;
  }

  setConfigFromFlags(flags: FlagValues): void {
    Object.assign(this.cfg, parseGenericFlags(flags));
  }

  async preCreateCheck(): Promise<void> {
    const { stat } = await import('node:fs/promises');
    const info = await stat(this.cfg.SSHKey).catch(() => undefined);
    if (!info) throw new UsageError(`SSH key "${this.cfg.SSHKey}" does not exist: pass an existing private key with --generic-ssh-key`);
    if (info.isDirectory()) throw new UsageError(`SSH key "${this.cfg.SSHKey}" is a directory: pass a private key file with --generic-ssh-key`);
  }

  // The user's key is copied into the machine directory, as Docker Machine does, so the
  // machine keeps working if the original moves.
  async create(): Promise<void> {
    const dest = machineFiles(this.ctx.machineDir).userKeyCopy;
    const { copyFile, chmod } = await import('node:fs/promises');
    await copyFile(this.cfg.SSHKey, dest);
    await chmod(dest, 0o600);
    const pub = `${this.cfg.SSHKey}.pub`;
    if (existsSync(pub)) await copyFile(pub, `${dest}.pub`);
    this.cfg.SSHKeyPath = dest;
  }

  async remove(): Promise<void> {}

  async start(): Promise<void> {
    throw new DriverError('generic driver does not support start');
  }
  async stop(): Promise<void> {
    throw new DriverError('generic driver does not support stop');
  }
  async kill(): Promise<void> {
    throw new DriverError('generic driver does not support kill');
  }
  async restart(): Promise<void> {
    throw new DriverError('generic driver does not support restart: reboot the host yourself, or use "provision" to reconfigure its engine');
  }

  async getState(): Promise<MachineState> {
    return (await tcpReachable(this.cfg.IPAddress, this.cfg.SSHPort, STATE_TIMEOUT_MS)) ? 'Running' : 'Stopped';
  }
  async getIP(): Promise<string> {
    if (!this.cfg.IPAddress) throw new DriverError('IP address is not set');
    return this.cfg.IPAddress;
  }
  async getURL(): Promise<string> {
    const ip = await this.getIP();
    const host = ip.includes(':') ? `[${ip}]` : ip;
    return `tcp://${host}:${this.cfg.EnginePort}`;
  }
  enginePort(): number {
    return this.cfg.EnginePort;
  }
  async getSSHHostname(): Promise<string> {
    return this.getIP();
  }
  async getSSHPort(): Promise<number> {
    return this.cfg.SSHPort || 22;
  }
  getSSHUsername(): string {
    return this.cfg.SSHUser || 'root';
  }
  getSSHKeyPath(): string {
    return this.cfg.SSHKeyPath || this.cfg.SSHKey;
  }
}

export default builtinModule<GenericSettings>({
  name: 'generic',
  schema: GenericSettingsSchema,
  flags: genericFlags,
  newDriver: (ctx, saved) => new GenericDriver(ctx, saved),
});
