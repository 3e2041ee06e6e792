import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DriverError, UsageError } from '../../errors.js';
import { baseDriverConfig, flagInt, flagString } from '../base.js';
import type { Driver, DriverConfig, DriverContext, DriverModule, FlagValues, MachineState } from '../driver.js';
import { tcpReachable } from '../tcp.js';

const STATE_TIMEOUT_MS = 3_000;

/** Any host already reachable over SSH; the driver only records how to reach it. */
class GenericDriver implements Driver {
  readonly name = 'generic';
  readonly provisionable = true;
  private cfg: DriverConfig;

  constructor(private readonly ctx: DriverContext, saved?: DriverConfig) {
    this.cfg = saved ?? { ...baseDriverConfig(ctx), EnginePort: 2376, SSHKey: '' };
  }

  config(): DriverConfig {
    return this.cfg;
  }

  setConfigFromFlags(flags: FlagValues): void {
    const ip = flagString(flags['generic-ip-address']);
    if (!ip) throw new UsageError('generic driver requires the --generic-ip-address option');
    this.cfg.IPAddress = ip;
    this.cfg.SSHUser = flagString(flags['generic-ssh-user'], 'root');
    this.cfg.SSHPort = flagInt(flags['generic-ssh-port'], 22);
    this.cfg.EnginePort = flagInt(flags['generic-engine-port'], 2376);
    this.cfg.SSHKey = flagString(flags['generic-ssh-key']) || defaultUserKey();
    if (!this.cfg.SSHKey) {
      throw new UsageError('generic driver needs --generic-ssh-key: no key was found in ~/.ssh');
    }
  }

  async preCreateCheck(): Promise<void> {
    const key = String(this.cfg.SSHKey);
    const { access } = await import('node:fs/promises');
    try {
      await access(key);
    } catch {
      throw new UsageError(`SSH key "${key}" does not exist: pass an existing private key with --generic-ssh-key`);
    }
  }

  // The user's key is copied into the machine directory, as Docker Machine does, so the
  // machine keeps working if the original moves.
  async create(): Promise<void> {
    const dest = join(this.ctx.machineDir, 'id_rsa');
    const { copyFile, chmod } = await import('node:fs/promises');
    await copyFile(String(this.cfg.SSHKey), dest);
    await chmod(dest, 0o600);
    const pub = `${String(this.cfg.SSHKey)}.pub`;
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
    return `tcp://${host}:${Number(this.cfg.EnginePort ?? 2376)}`;
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
    return this.cfg.SSHKeyPath || String(this.cfg.SSHKey ?? '');
  }
}

function defaultUserKey(): string {
  for (const name of ['id_ed25519', 'id_rsa', 'id_ecdsa']) {
    const p = join(homedir(), '.ssh', name);
    if (existsSync(p)) return p;
  }
  return '';
}

const generic: DriverModule = {
  name: 'generic',
  flags: [
    { name: 'generic-ip-address', type: 'string', description: 'IP Address of machine', env: 'GENERIC_IP_ADDRESS' },
    { name: 'generic-ssh-user', type: 'string', description: 'SSH user', default: 'root', env: 'GENERIC_SSH_USER' },
    { name: 'generic-ssh-key', type: 'string', description: 'SSH private key path (default: ~/.ssh/id_ed25519 or id_rsa)', env: 'GENERIC_SSH_KEY' },
    { name: 'generic-ssh-port', type: 'int', description: 'SSH port', default: 22, env: 'GENERIC_SSH_PORT' },
    { name: 'generic-engine-port', type: 'int', description: 'Docker engine port', default: 2376, env: 'GENERIC_ENGINE_PORT' },
  ],
  newDriver: (ctx, saved) => new GenericDriver(ctx, saved),
};
export default generic;
