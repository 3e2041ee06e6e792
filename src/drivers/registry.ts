import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { DriverError, DriverNotFoundError, progName } from '../errors.js';
import { PLUGIN_API_VERSION, type DriverModule } from './driver.js';

// Each driver's module (and so its SDK) loads only when that driver is used.
const builtin: Record<string, () => Promise<{ default: DriverModule }>> = {
  generic: () => import('./generic/index.js'),
  none: () => import('./none/index.js'),
  docker: () => import('./docker/index.js'),
  qemu: () => import('./qemu/index.js'),
  amazonec2: () => import('./amazonec2/index.js'),
  azure: () => import('./azure/index.js'),
  virtualbox: () => import('./virtualbox/index.js'),
};

export function builtinDriverNames(): string[] {
  return Object.keys(builtin).sort();
}

const cache = new Map<string, DriverModule>();

/**
 * Built-in drivers first, then plugins: an ES module exporting a DriverModule as default,
 * found as `machine-driver-NAME` in MACHINE_DRIVER_PATH directories (a file NAME.js/.mjs or a
 * package folder) or as an installed npm package of that name.
 */
export async function loadDriver(name: string): Promise<DriverModule> {
  const hit = cache.get(name);
  if (hit) return hit;
  const loader = builtin[name];
  const mod = loader ? (await loader()).default : await loadPlugin(name);
  if (mod.name !== name) throw new DriverError(`Driver plugin "${name}" calls itself "${mod.name}"`);
  cache.set(name, mod);
  return mod;
}

async function loadPlugin(name: string): Promise<DriverModule> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw unknownDriver(name);
  const pkg = `machine-driver-${name}`;
  const candidates: string[] = [];
  for (const dir of (process.env.MACHINE_DRIVER_PATH ?? '').split(':').filter(Boolean)) {
    candidates.push(join(dir, `${pkg}.mjs`), join(dir, `${pkg}.js`), join(dir, pkg));
  }
  for (const file of candidates) {
    if (existsSync(file)) return importPlugin(pathToFileURL(await resolvePackageEntry(file)).href, name);
  }
  // node:module loads here, not with the core chunk: it costs every `machine env` 0.8 ms.
  const { createRequire } = await import('node:module');
  let resolved: string | undefined;
  try {
    resolved = createRequire(join(process.cwd(), 'noop.js')).resolve(pkg);
  } catch {
    // Not an npm package: perhaps one of Docker Machine's plugin binaries.
  }
  if (resolved) return importPlugin(pathToFileURL(resolved).href, name);
  const binary = findPluginBinary(name);
  if (binary) return (await import('./binary/index.js')).binaryModule(binary);
  throw unknownDriver(name);
}

/** Docker Machine's core drivers, which a docker-machine or rancher-machine binary serves itself. */
const DOCKER_MACHINE_CORE = ['azure', 'digitalocean', 'exoscale', 'generic', 'google', 'hyperv', 'none', 'openstack', 'rackspace', 'softlayer', 'virtualbox', 'vmwarefusion', 'vmwarevcloudair', 'vmwarevsphere', 'amazonec2'];

function pluginSearchPath(): string[] {
  return [...(process.env.MACHINE_DRIVER_PATH ?? '').split(':'), ...(process.env.PATH ?? '').split(':')].filter(Boolean);
}

/**
 * A docker-machine-driver-NAME binary in MACHINE_DRIVER_PATH or PATH; for Docker Machine's
 * core drivers, a docker-machine or rancher-machine binary serving it.
 */
function findPluginBinary(name: string): { name: string; path: string; driverEnv?: string } | undefined {
  const dirs = pluginSearchPath();
  for (const dir of dirs) {
    const p = join(dir, `docker-machine-driver-${name}`);
    if (isExecutable(p)) return { name, path: p };
  }
  const core = DOCKER_MACHINE_CORE.includes(name) ? coreDriverBinary(dirs) : undefined;
  return core ? { name, path: core, driverEnv: name } : undefined;
}

/** A docker-machine binary in those directories, else a rancher-machine one. */
function coreDriverBinary(dirs: string[]): string | undefined {
  return ['docker-machine', 'rancher-machine'].flatMap((bin) => dirs.map((d) => join(d, bin))).find(isExecutable);
}

/**
 * The plugins this machine can find now, for `create --help` and completion: JS plugins in
 * MACHINE_DRIVER_PATH, `docker-machine-driver-*` binaries there and on PATH (the first of a
 * name wins, as lookup does), and the core drivers a docker-machine or rancher-machine binary
 * would serve. npm packages are not listed: finding them would mean walking node_modules.
 */
export function discoverPlugins(): Array<{ name: string; from: string }> {
  const found = new Map<string, string>();
  const builtins = new Set(builtinDriverNames());
  const add = (name: string, from: string) => {
    if (/^[a-z0-9][a-z0-9-]*$/.test(name) && !builtins.has(name) && !found.has(name)) found.set(name, from);
  };
  const entries = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  for (const dir of (process.env.MACHINE_DRIVER_PATH ?? '').split(':').filter(Boolean)) {
    for (const f of entries(dir)) {
      const m = /^machine-driver-(.+?)(\.m?js)?$/.exec(f);
      if (m) add(m[1]!, join(dir, f));
    }
  }
  const dirs = pluginSearchPath();
  for (const dir of dirs) {
    for (const f of entries(dir)) {
      const m = /^docker-machine-driver-(.+)$/.exec(f);
      if (m && isExecutable(join(dir, f))) add(m[1]!, join(dir, f));
    }
  }
  const core = coreDriverBinary(dirs);
  if (core) for (const name of DOCKER_MACHINE_CORE) add(name, core);
  return [...found].map(([name, from]) => ({ name, from })).sort((a, b) => a.name.localeCompare(b.name));
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** For create and its help: the module with its flags, which a plugin binary is asked for. */
export async function loadDriverWithFlags(name: string): Promise<DriverModule> {
  const mod = await loadDriver(name);
  const withFlags = mod as DriverModule & { loadFlags?: () => Promise<unknown> };
  if (withFlags.loadFlags) await withFlags.loadFlags();
  return mod;
}

async function resolvePackageEntry(path: string): Promise<string> {
  if (path.endsWith('.js') || path.endsWith('.mjs')) return path;
  const { createRequire } = await import('node:module');
  return createRequire(join(path, 'noop.js')).resolve(path);
}

async function importPlugin(url: string, name: string): Promise<DriverModule> {
  let mod: { default?: DriverModule };
  try {
    const { importPluginModule } = await import('./plugin-import.js');
    mod = (await importPluginModule(url)) as { default?: DriverModule };
  } catch (err) {
    throw new DriverError(`Driver plugin "${name}" failed to load: ${(err as Error).message}`);
  }
  const driver = mod.default;
  if (!driver || typeof driver.newDriver !== 'function' || typeof driver.readSettings !== 'function' || !Array.isArray(driver.flags)) {
    throw new DriverError(`Driver plugin "${name}" does not export a DriverModule as default (name, apiVersion, flags, readSettings, newDriver)`);
  }
  if (driver.apiVersion !== PLUGIN_API_VERSION) {
    throw new DriverError(
      `Driver plugin "${name}" was written for plugin API version ${String(driver.apiVersion ?? 'none')}, and this ${progName()} speaks version ${PLUGIN_API_VERSION}: update the plugin (${url})`,
    );
  }
  // Loaded with the plugin: the fast commands' core does without it.
  const { guardPlugin } = await import('./plugin-guard.js');
  return guardPlugin(driver, name, fileURLToPath(url));
}

function unknownDriver(name: string): DriverError {
  return new DriverNotFoundError(
    `Driver "${name}" not found. Built-in drivers: ${builtinDriverNames().join(', ')}; plugins are looked up as machine-driver-${name} (MACHINE_DRIVER_PATH or npm) and docker-machine-driver-${name} (MACHINE_DRIVER_PATH, then PATH) (see "${progName()} help create")`,
  );
}
