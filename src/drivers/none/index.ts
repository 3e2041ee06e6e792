import { DriverError, UsageError } from '../../errors.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';
import { builtinModule, flagString, machineFields } from '../base.js';
import type { Driver, DriverContext, FlagValues, MachineState } from '../driver.js';
import { int, newSettings, settingsSchema, str, type SettingsOf } from '../settings.js';

/** Docker Machine's none driver: the base fields (no SSH) and the engine's URL. */
export const NoneSettingsSchema = settingsSchema({ SSHUser: str(), SSHPort: int(0), URL: str() });
export type NoneSettings = SettingsOf<typeof NoneSettingsSchema>;

/** An engine someone else runs: the machine is just a URL and the store's certificates. */
class NoneDriver implements Driver<NoneSettings> {
  readonly name = 'none';
  readonly provisionable = false;

  describeRemoval(): string {
    return 'the record only: the engine stays';
  }
  readonly powerControl = false;
  private cfg: NoneSettings;

  constructor(ctx: DriverContext, saved?: NoneSettings) {
    this.cfg = saved ?? newSettings(NoneSettingsSchema, machineFields(ctx));
  }

  config(): NoneSettings {
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
    return new URL(this.cfg.URL).hostname;
  }
  async getURL(): Promise<string> {
    return this.cfg.URL;
  }
  enginePort(): number {
    return Number(new URL(this.cfg.URL).port) || DEFAULT_ENGINE_PORT;
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

export default builtinModule<NoneSettings>({
  name: 'none',
  schema: NoneSettingsSchema,
  flags: [{ name: 'url', type: 'string', description: 'URL of the engine (tcp://HOST:PORT)', env: 'NONE_URL', required: true }],
  newDriver: (ctx, saved) => new NoneDriver(ctx, saved),
});
