import { DriverError } from '../../errors.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';
import { silentLogger } from '../../log.js';
import { gt, type GoType } from '../../plugin-rpc/gob.js';
import { flagBool, flagInt, flagList, flagString } from '../base.js';
import type { Driver, DriverContext, DriverModule, FlagSpec, FlagValues, MachineState } from '../driver.js';
import { PLUGIN_API_VERSION } from '../driver.js';
import { BaseSettingsSchema, readSettings, type BaseSettings } from '../settings.js';
import { PluginProcess, type PluginBinary } from './process.js';

// Docker Machine's driver plugins (docker-machine-driver-NAME binaries, and the drivers the
// docker-machine and rancher-machine binaries serve) behind the project's Driver interface.
// The rest of machine cannot tell such a driver from a built-in one.

/** libmachine's state.State, by number. */
const STATES: MachineState[] = ['None', 'Running', 'Paused', 'Saved', 'Stopped', 'Stopping', 'Starting', 'Error', 'Timeout'];

/** libmachine's mcnflag types as the plugin sends them. */
interface McnFlag {
  goType: string;
  value: { Name?: string; Usage?: string; EnvVar?: string; Value?: unknown };
}

function toFlagSpec(f: McnFlag): FlagSpec | undefined {
  const v = f.value;
  if (!v?.Name) return undefined;
  const base = { name: v.Name, description: v.Usage ?? '', ...(v.EnvVar ? { env: v.EnvVar } : {}) };
  switch (f.goType) {
    case '*mcnflag.StringFlag':
      return { ...base, type: 'string', ...(v.Value ? { default: String(v.Value) } : {}) };
    case '*mcnflag.IntFlag':
      return { ...base, type: 'int', default: Number(v.Value ?? 0), min: -(2 ** 31) };
    case '*mcnflag.BoolFlag':
      return { ...base, type: 'bool' };
    case '*mcnflag.StringSliceFlag':
      return { ...base, type: 'stringArray', ...(Array.isArray(v.Value) && v.Value.length ? { default: v.Value.map(String) } : {}) };
    default:
      return undefined;
  }
}

/** SetConfigFromFlags' argument: an interface holding *rpcdriver.RPCFlags (RpcFlags before 0.5.1), every declared flag in it. */
const RPC_FLAGS = gt.struct('RPCFlags', [['Values', gt.map(gt.string, gt.interface)]]);
function rpcFlags(specs: FlagSpec[], values: FlagValues, legacy: boolean) {
  const out: Record<string, { goType: string; type: GoType; value: unknown }> = {};
  for (const f of specs) {
    const v = values[f.name];
    if (f.type === 'int') out[f.name] = { goType: 'int', type: gt.int, value: flagInt(v, Number(f.default ?? 0)) };
    else if (f.type === 'bool') out[f.name] = { goType: 'bool', type: gt.bool, value: flagBool(v) };
    else if (f.type === 'stringArray') out[f.name] = { goType: '[]string', type: gt.slice(gt.string), value: flagList(v ?? f.default) };
    else out[f.name] = { goType: 'string', type: gt.string, value: flagString(v, String(f.default ?? '')) };
  }
  // libmachine registers the type with gob under its Go name, which it renamed in 0.5.1.
  return { goType: legacy ? '*rpcdriver.RpcFlags' : '*rpcdriver.RPCFlags', type: RPC_FLAGS, value: { Values: out } };
}

class BinaryPluginDriver implements Driver {
  readonly provisionable = true;
  private plugin?: PluginProcess;
  private raw: BaseSettings & Record<string, unknown>;
  private url = '';

  constructor(
    private readonly binary: PluginBinary,
    private readonly specs: () => Promise<FlagSpec[]>,
    private readonly ctx: DriverContext,
    saved?: BaseSettings,
  ) {
    this.raw = (saved as BaseSettings & Record<string, unknown>) ?? { ...readSettings(BaseSettingsSchema, {}), MachineName: ctx.machineName, StorePath: ctx.storePath };
  }

  get name(): string {
    return this.binary.name;
  }

  config(): BaseSettings {
    return this.raw;
  }

  /** The plugin for this command, started on the first call and given the machine's settings. */
  private async driver(): Promise<PluginProcess> {
    if (this.plugin) return this.plugin;
    const plugin = await PluginProcess.start(this.binary, this.ctx.log, this.ctx.machineName);
    this.plugin = plugin;
    await plugin.call('SetConfigRaw', gt.bytes, Buffer.from(JSON.stringify(this.raw)));
    return plugin;
  }

  /**
   * A call that may change the driver's settings: they are read back after it. An interrupt
   * ends the plugin at once, as Docker Machine did: the rollback starts a fresh one to remove
   * what the machine has.
   */
  private async act(method: string, argType?: GoType, arg?: unknown): Promise<void> {
    const plugin = await this.driver();
    const signal = this.ctx.signal;
    let onAbort = () => undefined as void;
    const interrupted = new Promise<never>((_, reject) => {
      onAbort = () => {
        plugin.kill();
        reject(signal!.reason instanceof Error ? signal!.reason : new DriverError(`interrupted during ${method}`));
      };
    });
    // Calls made once interrupted are the rollback's own (Remove): they run to the end.
    if (signal && !signal.aborted) signal.addEventListener('abort', onAbort, { once: true });
    interrupted.catch(() => undefined);
    try {
      await Promise.race([plugin.call(method, argType, arg), interrupted]);
    } catch (err) {
      this.forgetIfDead(plugin);
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      const raw = plugin.dead ? undefined : await plugin.call<Buffer>('GetConfigRaw').catch(() => undefined);
      if (raw?.length) this.raw = JSON.parse(raw.toString('utf8'));
    }
  }

  private async ask<T>(method: string): Promise<T> {
    const plugin = await this.driver();
    try {
      return await plugin.call<T>(method);
    } catch (err) {
      this.forgetIfDead(plugin);
      throw err;
    }
  }

  /** A plugin that died is started afresh for the next call (the rollback's Remove). */
  private forgetIfDead(plugin: PluginProcess): void {
    if (plugin.dead && this.plugin === plugin) this.plugin = undefined;
  }

  async setConfigFromFlags(flags: FlagValues): Promise<void> {
    const legacy = (await this.driver()).legacy;
    await this.act('SetConfigFromFlags', gt.interface, rpcFlags(await this.specs(), flags, legacy));
  }
  preCreateCheck = () => this.act('PreCreateCheck');
  create = () => this.act('Create');
  async remove(): Promise<void> {
    try {
      await this.act('Remove');
    } finally {
      await this.plugin?.close();
      this.plugin = undefined;
    }
  }
  start = () => this.act('Start');
  stop = () => this.act('Stop');
  restart = () => this.act('Restart');
  kill = () => this.act('Kill');

  async getState(): Promise<MachineState> {
    return STATES[Number(await this.ask<number>('GetState'))] ?? 'Error';
  }
  async getIP(): Promise<string> {
    return this.ask<string>('GetIP');
  }
  async getURL(): Promise<string> {
    this.url = await this.ask<string>('GetURL');
    return this.url;
  }
  enginePort(): number {
    const port = /:(\d+)$/.exec(this.url)?.[1];
    return port ? Number(port) : DEFAULT_ENGINE_PORT;
  }
  getSSHHostname = () => this.ask<string>('GetSSHHostname');
  async getSSHPort(): Promise<number> {
    return Number(await this.ask<number>('GetSSHPort'));
  }
  getSSHUsername(): string {
    return String(this.raw.SSHUser || 'root');
  }
  getSSHKeyPath(): string {
    return String(this.raw.SSHKeyPath || '');
  }
}

/**
 * A DriverModule over a plugin binary. Its flags are asked of the plugin only when a command
 * needs them (create and its help); `ls`, `env` and the rest never start it for that.
 */
export function binaryModule(binary: PluginBinary): DriverModule & { loadFlags(): Promise<FlagSpec[]> } {
  let flags: Promise<FlagSpec[]> | undefined;
  const loadFlags = () =>
    (flags ??= (async () => {
      const plugin = await PluginProcess.start(binary, silentLogger, binary.name);
      try {
        const list = await plugin.call<McnFlag[]>('GetCreateFlags');
        return (list ?? []).map(toFlagSpec).filter((f): f is FlagSpec => f !== undefined);
      } finally {
        await plugin.close();
      }
    })());
  const mod = {
    apiVersion: PLUGIN_API_VERSION,
    name: binary.name,
    flags: [] as FlagSpec[],
    async loadFlags() {
      mod.flags = await loadFlags();
      return mod.flags;
    },
    // The plugin's JSON is its own: kept as it is (only its being an object is checked).
    readSettings: (raw: unknown) => {
      if (!raw || typeof raw !== 'object') throw new DriverError(`driver ${binary.name}: its settings are not a JSON object`);
      return raw as BaseSettings;
    },
    newDriver: (ctx: DriverContext, saved?: BaseSettings) => new BinaryPluginDriver(binary, loadFlags, ctx, saved),
  };
  return mod;
}
