import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DriverError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { RpcClient, RpcConnectionError } from '../../plugin-rpc/rpc.js';

// One Docker Machine plugin process, as libmachine runs them: MACHINE_PLUGIN_TOKEN=42 in its
// environment, its loopback address on the first stdout line, then its log on stdout (shown
// prefixed with the machine's name) and stderr (under --debug). Heartbeats keep it alive: a
// plugin exits on its own some seconds after its client is gone.

const ADDRESS_TIMEOUT_MS = 10_000;
const HEARTBEAT_MS = 5_000;
const API_VERSION = 1;
/** libmachine's service names: V1 since Docker Machine 0.5.1, V0 before. */
const SERVICES = ['RPCServerDriver', 'RpcServerDriver'];

const running = new Set<ChildProcess>();
let reaperInstalled = false;
/** Plugins never outlive the command, however it ends. */
function reapOnExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
}

export interface PluginBinary {
  /** The driver's name. */
  name: string;
  path: string;
  /** For a binary serving several drivers (docker-machine, rancher-machine). */
  driverEnv?: string;
}

export class PluginProcess {
  private service = SERVICES[0]!;
  private heartbeat?: NodeJS.Timeout;

  private constructor(
    readonly binary: PluginBinary,
    private readonly child: ChildProcess,
    private readonly rpc: RpcClient,
  ) {}

  static async start(binary: PluginBinary, log: Logger, label: string): Promise<PluginProcess> {
    const child = spawn(binary.path, [], {
      env: { ...process.env, MACHINE_PLUGIN_TOKEN: '42', ...(binary.driverEnv ? { MACHINE_PLUGIN_DRIVER_NAME: binary.driverEnv } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    reapOnExit(child);
    // The plugin's pipes and the process itself do not keep the CLI alive: the RPC calls do.
    child.unref();
    for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
    const where = `driver plugin ${binary.path}`;
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new DriverError(`The ${where} did not print its address within ${ADDRESS_TIMEOUT_MS / 1000} s: is it a Docker Machine driver plugin?`));
      }, ADDRESS_TIMEOUT_MS);
      const lines = createInterface({ input: child.stdout! });
      let first = true;
      lines.on('line', (line) => {
        if (first) {
          first = false;
          clearTimeout(timer);
          if (!/^[\w.[\]:-]+:\d+$/.test(line.trim())) {
            child.kill('SIGKILL');
            reject(new DriverError(`The ${where} printed "${line.trim()}" where its address belongs: is it a Docker Machine driver plugin?`));
          } else resolve(line.trim());
          return;
        }
        if (line.trim()) log.info(`(${label}) ${line}`);
      });
      createInterface({ input: child.stderr! }).on('line', (line) => log.debug(`(${label}) ${line}`));
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new DriverError(`Cannot run the ${where}: ${err.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new DriverError(`The ${where} exited (${signal ?? `code ${code}`}) before printing its address`));
      });
    });
    const rpc = await RpcClient.dial(address);
    const plugin = new PluginProcess(binary, child, rpc);
    await plugin.handshake();
    plugin.heartbeat = setInterval(() => void plugin.call('Heartbeat').catch(() => undefined), HEARTBEAT_MS);
    plugin.heartbeat.unref();
    return plugin;
  }

  private async handshake(): Promise<void> {
    let version: unknown;
    try {
      version = await this.rpc.call(`${this.service}.GetVersion`);
    } catch {
      // Plugins built before Docker Machine 0.5.1 named the service differently.
      this.service = SERVICES[1]!;
      version = await this.call('GetVersion');
    }
    if (Number(version) !== API_VERSION) {
      throw new DriverError(`The driver plugin ${this.binary.path} uses an incompatible API version (${String(version)})`);
    }
  }

  /** One call to the driver; a plugin that died says so in one line naming the binary. */
  async call<T = unknown>(method: string, argType?: Parameters<RpcClient['call']>[1], arg?: unknown): Promise<T> {
    try {
      return await this.rpc.call<T>(`${this.service}.${method}`, argType, arg);
    } catch (err) {
      if (err instanceof RpcConnectionError) {
        // The connection drops a moment before the process is reaped: wait for its exit code.
        if (this.child.exitCode === null && this.child.signalCode === null) {
          await new Promise((r) => {
            const t = setTimeout(r, 1000);
            this.child.once('exit', () => (clearTimeout(t), r(undefined)));
          });
        }
        const exit = this.child.exitCode !== null ? ` (it exited with code ${this.child.exitCode})` : this.child.signalCode ? ` (killed by ${this.child.signalCode})` : '';
        throw new DriverError(`The driver plugin ${this.binary.path} stopped answering during ${method}${exit}`, { cause: err });
      }
      throw err;
    }
  }

  /** A plugin built before Docker Machine 0.5.1 (service RpcServerDriver), which named its types the old way. */
  get legacy(): boolean {
    return this.service === SERVICES[1];
  }

  get dead(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null || this.rpc.broken;
  }

  /** Ends the plugin at once (an interrupt): no goodbye, the process is killed. */
  kill(): void {
    clearInterval(this.heartbeat);
    this.rpc.close();
    this.child.kill('SIGKILL');
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.call('Close').catch(() => undefined);
    this.rpc.close();
    if (this.child.exitCode === null) this.child.kill();
  }
}
