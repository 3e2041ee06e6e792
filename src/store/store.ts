// Reads use node:fs's sync calls: they are already loaded at startup, whereas fs/promises
// pulls in streams and readline, a visible share of `machine env`'s start time.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { ConfigFromFutureError, CorruptConfigError, HostDoesNotExistError, MachineError } from '../errors.js';
import { VERSION } from '../version.js';
import { readConfigVersion } from './migrate.js';
import { CURRENT_CONFIG_VERSION, parseHostConfig, type HostConfig } from './schema.js';
import { rebaseStorePaths } from './rebase.js';
import { cacheDir } from './paths.js';
import { MachineFiles, machineFiles } from './machine-files.js';
import { validateMachineName } from './names.js';

/**
 * Docker Machine's on-disk store: `certs/` and `machines/NAME/config.json`. Reads need no lock
 * because every write is an atomic rename; commands that change a machine hold its lock.
 */
export class Store {
  /** onLockWait hears, once per wait, what a command waits for (the CLI prints it on stderr). */
  constructor(
    readonly root: string,
    private readonly opts: { onLockWait?: (message: string) => void } = {},
  ) {}

  get certsDir(): string {
    return join(this.root, 'certs');
  }
  private machinesDirOnce?: string;
  get machinesDir(): string {
    return (this.machinesDirOnce ??= join(this.root, 'machines'));
  }
  /** Downloaded and built artefacts (images, rootfs tarballs); MACHINE_CACHE_DIR moves it. */
  get cacheDir(): string {
    return cacheDir(this.root);
  }
  /** Every path of a machine goes through here: a name that is not one never reaches the file system. */
  machineDir(name: string): string {
    validateMachineName(name);
    // A valid name is one path component, never `.` or `..`: appended, not joined (ls of 500
    // machines made each path three times, and join normalises the whole path every time).
    return this.machinesDir + sep + name;
  }
  /** The file names of a machine's folder. */
  files(name: string): MachineFiles {
    return new MachineFiles(this.machineDir(name));
  }
  configPath(name: string): string {
    return this.files(name).config;
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
    // ConfigVersion 0-2 are migrated in memory; the file is rewritten only by the next save.
    const parsed = parseHostConfig(raw, { name, storeRoot: this.root });
    if (!parsed.ok) {
      if (parsed.futureVersion !== undefined) {
        const writtenBy = (raw as { MachineVersion?: unknown }).MachineVersion;
        throw new ConfigFromFutureError(path, parsed.futureVersion, CURRENT_CONFIG_VERSION, VERSION, typeof writtenBy === 'string' ? writtenBy : undefined);
      }
      throw new CorruptConfigError(path, parsed.detail);
    }
    if (parsed.config.Name !== name) {
      throw new CorruptConfigError(path, `it names machine "${parsed.config.Name}", not "${name}"`);
    }
    return rebaseStorePaths(parsed.config, this.root);
  }

  /**
   * Writes config.json as ConfigVersion 3, stamped with the machine version that wrote it.
   * When the file on disk is an older version (loaded through a migration), its original bytes
   * go to config.json.bak first, once: an existing .bak is never replaced.
   */
  async save(config: HostConfig): Promise<void> {
    const dir = this.machineDir(config.Name);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = this.configPath(config.Name);
    await this.backupOlderVersion(path, machineFiles(dir).configBackup);
    const out: HostConfig = { ...config, ConfigVersion: CURRENT_CONFIG_VERSION, MachineVersion: VERSION };
    const { writeFileAtomic } = await import('../sys/atomic.js');
    await writeFileAtomic(path, JSON.stringify(out, null, 4), 0o600);
  }

  /** Copies a pre-version-3 config.json to config.json.bak unless a .bak exists. */
  private async backupOlderVersion(path: string, bak: string): Promise<void> {
    if (existsSync(bak)) return;
    let bytes: Buffer;
    let raw: unknown;
    try {
      bytes = readFileSync(path);
      raw = JSON.parse(bytes.toString('utf8'));
    } catch {
      return; // no file yet (a create), or one load would have refused: nothing migrated
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return;
    const version = readConfigVersion(raw as Record<string, unknown>);
    if (!version.ok || version.version >= CURRENT_CONFIG_VERSION) return;
    // Written whole to a temporary file, then hard-linked into place: the link appears
    // complete or not at all, and fails rather than replace a .bak made meanwhile.
    const { link, open, unlink } = await import('node:fs/promises');
    const tmp = `${bak}.${process.pid}.${Date.now()}.tmp`;
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await link(tmp, bak).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    } catch (err) {
      throw new MachineError(`Cannot back up ${path} to ${bak} before rewriting it as ConfigVersion ${CURRENT_CONFIG_VERSION}: ${(err as Error).message}`);
    } finally {
      await unlink(tmp).catch(() => {});
    }
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
    // Keys starting with a dot are the store's own (.certs, .shared-*); the rest are machines.
    // Neither may hold a path separator: a lock file is always a file in .locks/.
    if (!name.startsWith('.') || /[\\/]/.test(name)) validateMachineName(name);
    const { withFileLock } = await import('./lock.js');
    return withFileLock(join(this.root, '.locks'), name, fn, this.opts.onLockWait ? { onWait: this.opts.onLockWait } : {});
  }

  async hasDir(name: string): Promise<boolean> {
    const dir = this.machineDir(name);
    try {
      return statSync(dir).isDirectory();
    } catch {
      return false;
    }
  }
}
