import { DriverError, UsageError } from '../../errors.js';
import { baseDriverConfig, flagString } from '../base.js';
import type { Driver, DriverConfig, DriverContext, DriverModule, FlagValues, MachineState } from '../driver.js';

/** An engine someone else runs: the machine is just a URL and the store's certificates. */
class NoneDriver implements Driver {
  readonly name = 'none';
  readonly provisionable = false;
  private cfg: DriverConfig;

  constructor(ctx: DriverContext, saved?: DriverConfig) {
    this.cfg = saved ?? { ...baseDriverConfig(ctx), SSHUser: '', SSHPort: 0, URL: '' };
  }

  config(): DriverConfig {
    return this.cfg;
  }

  setConfigFromFlags(flags: FlagValues): void {
    const url = flagString(flags['url']);
    if (!url) throw new UsageError('--url option is required for the none driver');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--url "${url}" is not a URL; use the form tcp://HOST:PORT`);
    }
    this.cfg.URL = url;
    this.cfg.IPAddress = parsed.host;
  }

  async preCreateCheck(): Promise<void> {}
  async create(): Promise<void> {}
  async remove(): Promise<void> {}
  async start(): Promise<void> {
    throw new DriverError('hosts without a driver cannot be started');
  }
  async stop(): Promise<void> {
    throw new DriverError('hosts without a driver cannot be stopped');
  }
  async restart(): Promise<void> {
    throw new DriverError('hosts without a driver cannot be restarted');
  }
  async kill(): Promise<void> {
    throw new DriverError('hosts without a driver cannot be killed');
  }
  async getState(): Promise<MachineState> {
    return 'Running';
  }
  async getIP(): Promise<string> {
    return new URL(String(this.cfg.URL)).hostname;
  }
  async getURL(): Promise<string> {
    return String(this.cfg.URL);
  }
  async getSSHHostname(): Promise<string> {
    throw new DriverError('No SSH command for the none driver');
  }
  async getSSHPort(): Promise<number> {
    throw new DriverError('No SSH command for the none driver');
  }
  getSSHUsername(): string {
    return '';
  }
  getSSHKeyPath(): string {
    return '';
  }
}

const none: DriverModule = {
  name: 'none',
  flags: [{ name: 'url', type: 'string', description: 'URL of the engine (tcp://HOST:PORT)', env: 'NONE_URL' }],
  newDriver: (ctx, saved) => new NoneDriver(ctx, saved),
};
export default none;
