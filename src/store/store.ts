// Reads use node:fs's sync calls: they are already loaded at startup, whereas fs/promises
// pulls in streams and readline, a visible share of `machine env`'s start time.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptConfigError, HostDoesNotExistError, MachineError } from '../errors.js';
import { parseHostConfig, type HostConfig } from './schema.js';
import { rebaseStorePaths } from './rebase.js';

/**
 * Docker Machine's on-disk store: `certs/` and `machines/NAME/config.json`. Reads need no lock
 * because every write is an atomic rename; commands that change a machine hold its lock.
 */
export class Store {
  constructor(readonly root: string) {}

  get certsDir(): string {
    return join(this.root, 'certs');
  }
  get machinesDir(): string {
    return join(this.root, 'machines');
  }
  /** Downloaded and built artefacts (images, rootfs tarballs); MACHINE_CACHE_DIR moves it. */
  get cacheDir(): string {
    return process.env.MACHINE_CACHE_DIR || join(this.root, 'cache');
  }
  machineDir(name: string): string {
    return join(this.machinesDir, name);
  }
  configPath(name: string): string {
    return join(this.machineDir(name), 'config.json');
  }

  exists(name: string): boolean {
    return existsSync(this.configPath(name));
  }

  /** Names of every directory under machines/ that holds a config.json, sorted. */
  async list(): Promise<string[]> {
    let entries;
    try {
      entries = readdirSync(this.machinesDir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const names = entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && existsSync(this.configPath(e.name)))
      .map((e) => e.name);
    return names.sort();
  }

  async load(name: string): Promise<HostConfig> {
    const path = this.configPath(name);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HostDoesNotExistError(name);
      throw new MachineError(`Cannot read ${path}: ${(err as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new CorruptConfigError(path, `not valid JSON (${(err as Error).message})`);
    }
    const parsed = parseHostConfig(raw);
    if (!parsed.ok) throw new CorruptConfigError(path, parsed.detail);
    if (parsed.config.Name !== name) {
      throw new CorruptConfigError(path, `it names machine "${parsed.config.Name}", not "${name}"`);
    }
    return rebaseStorePaths(parsed.config, this.root);
  }

  async save(config: HostConfig): Promise<void> {
    const dir = this.machineDir(config.Name);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { writeFileAtomic } = await import('./atomic.js');
    await writeFileAtomic(this.configPath(config.Name), JSON.stringify(config, null, 4), 0o600);
  }

  async remove(name: string): Promise<void> {
    const { rm } = await import('node:fs/promises');
    await rm(this.machineDir(name), { recursive: true, force: true });
  }

  async ensureMachineDir(name: string): Promise<string> {
    const dir = this.machineDir(name);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** Runs fn holding the machine's lock; concurrent commands on one machine wait their turn. */
  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const { withFileLock } = await import('./lock.js');
    return withFileLock(join(this.root, '.locks'), name, fn);
  }

  async hasDir(name: string): Promise<boolean> {
    try {
      return statSync(this.machineDir(name)).isDirectory();
    } catch {
      return false;
    }
  }
}
