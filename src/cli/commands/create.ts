import { UsageError, progName } from '../../errors.js';
import type { Cli, Command } from '../context.js';
import { formatOptions, list, str, type OptionSpecs, type Parsed } from '../args.js';
import { builtinDriverNames, discoverPlugins, loadDriverWithFlags as loadDriver, type DriverModule, type FlagValue } from '../../host/drivers.js';
import { createMachine, defaultEngineOptions, type CreateRequest } from '../../host/create.js';
import { progressOption } from './common.js';
import { interactive } from '../prompt.js';
import { parseTransport, withTransport } from '../../host/transport.js';
import { assertContextFree, useMachineContext } from '../../host/context.js';

export const baseOptions: OptionSpecs = {
  ...progressOption,
  driver: { type: 'string', short: 'd', description: 'Driver to create machine with.', default: 'virtualbox', env: 'MACHINE_DRIVER', placeholder: 'name' },
  'engine-install-url': { type: 'string', description: 'Custom URL to use for engine installation; "distro" for the distribution\'s own package, "none" to skip', default: 'https://get.docker.com', env: 'MACHINE_DOCKER_INSTALL_URL', placeholder: 'url' },
  'engine-opt': { type: 'string', multiple: true, description: 'Specify arbitrary flags to include with the created engine in the form flag=value', placeholder: 'flag=value' },
  'engine-insecure-registry': { type: 'string', multiple: true, description: 'Specify insecure registries to allow with the created engine', placeholder: 'host:port' },
  'engine-registry-mirror': { type: 'string', multiple: true, description: 'Specify registry mirrors to use', env: 'ENGINE_REGISTRY_MIRROR', placeholder: 'url' },
  'engine-label': { type: 'string', multiple: true, description: 'Specify labels for the created engine', placeholder: 'key=value' },
  'engine-storage-driver': { type: 'string', description: 'Specify a storage driver to use with the engine', env: 'MACHINE_ENGINE_STORAGE_DRIVER', placeholder: 'name' },
  'engine-env': { type: 'string', multiple: true, description: 'Specify environment variables to set in the engine', placeholder: 'KEY=VALUE' },
  'tls-san': { type: 'string', multiple: true, description: 'Support extra SANs for TLS certs', placeholder: 'name' },
  'swarm-init': { type: 'boolean', description: 'Make this machine the first manager of a new swarm-mode cluster named after it' },
  'swarm-join': { type: 'string', description: 'Join the swarm-mode cluster that this manager machine leads', placeholder: 'manager' },
  'swarm-role': { type: 'string', description: 'Role when joining: worker or manager', default: 'worker', placeholder: 'role' },
  'engine-transport': { type: 'string', description: 'How the docker CLI reaches the engine: "tls" (TCP port 2376, certificates) or "ssh" (ssh://, no port open)', default: 'tls', env: 'MACHINE_ENGINE_TRANSPORT', placeholder: 'tls|ssh' },
  'ssh-config': { type: 'boolean', description: "Allow adding an Include of the machines' SSH entries to ~/.ssh/config (asked on a terminal otherwise)" },
  context: { type: 'boolean', description: 'Make a docker context for the machine and make it current (machine use NAME)', env: 'MACHINE_CONTEXT' },
  'wait-timeout': { type: 'string', description: 'Seconds to wait for the machine to run and answer SSH', default: '120', env: 'MACHINE_WAIT_TIMEOUT', placeholder: 'seconds' },
};

// Docker Machine's standalone Swarm is retired; these flags now only explain what replaced them.
const retiredSwarmFlags = [
  'swarm',
  'swarm-image',
  'swarm-master',
  'swarm-discovery',
  'swarm-strategy',
  'swarm-opt',
  'swarm-join-opt',
  'swarm-host',
  'swarm-addr',
  'swarm-experimental',
];
export const retiredOptions: OptionSpecs = Object.fromEntries(
  retiredSwarmFlags.map((f) => [
    f,
    f === 'swarm' || f === 'swarm-master' || f === 'swarm-experimental'
      ? { type: 'boolean' as const, description: 'Retired (standalone Swarm)' }
      : { type: 'string' as const, multiple: true, description: 'Retired (standalone Swarm)' },
  ]),
);

export function driverOptions(mod: DriverModule): OptionSpecs {
  const out: OptionSpecs = {};
  for (const f of mod.flags) {
    out[f.name] = {
      type: f.type === 'bool' ? 'boolean' : 'string',
      ...(f.type === 'stringArray' ? { multiple: true } : {}),
      description: f.description,
      ...(f.default !== undefined ? { default: typeof f.default === 'number' ? String(f.default) : f.default } : {}),
      ...(f.env ? { env: f.env } : {}),
    };
  }
  return out;
}

/** The driver is named among the flags, and its own flags depend on it: find it first. */
export function findDriverName(args: string[]): string {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-d' || a === '--driver') return args[i + 1] ?? '';
    if (a.startsWith('--driver=')) return a.slice('--driver='.length);
    if (a.startsWith('-d=')) return a.slice(3);
  }
  return process.env.MACHINE_DRIVER || 'virtualbox';
}

/** A driver named by -d/--driver or MACHINE_DRIVER; undefined when create would fall back to its default. */
function namedDriver(args: string[]): string | undefined {
  const named = args.some((a) => a === '-d' || a === '--driver' || a.startsWith('--driver=') || a.startsWith('-d='));
  return named || process.env.MACHINE_DRIVER ? findDriverName(args) : undefined;
}

/**
 * `create --help` and `help create`: the common flags, then either the named driver's own
 * flags or the drivers there are and how to see one's flags (all of them at once would be
 * hundreds of lines, and Docker Machine's virtualbox default is rarely the one wanted).
 */
async function createHelp(args: string[]): Promise<string> {
  const driver = namedDriver(args);
  const mod = driver ? await loadDriver(driver) : undefined;
  const p = progName();
  const head = [`Usage: ${p} create [OPTIONS] NAME`, '', 'Create a machine.', '', 'Options:', '', formatOptions({ ...baseOptions, ...(mod ? driverOptions(mod) : {}) }), ''];
  if (mod) return [...head, `(flags of the ${mod.name} driver included; "${p} create --help" lists the drivers)`, ''].join('\n');
  const plugins = discoverPlugins();
  const width = Math.max(...plugins.map((x) => x.name.length), 10) + 2;
  return [
    ...head,
    'Drivers:',
    `  built in: ${builtinDriverNames().join(', ')}`,
    ...(plugins.length ? ['  plugins found:', ...plugins.map((x) => `    ${x.name.padEnd(width)}${x.from}`)] : ['  plugins found: none (see "Plugins" in the README)']),
    '',
    `Run '${p} create -d DRIVER --help' to see that driver's flags.`,
    '',
  ].join('\n');
}

const create: Command = {
  name: 'create',
  usage: '[OPTIONS] NAME',
  description: 'Create a machine.',
  options: baseOptions,
  async resolveOptions(args) {
    // An unknown driver is an error here already, with --help too: one line naming where
    // plugins were looked for.
    const mod = await loadDriver(findDriverName(args) || 'virtualbox');
    return { ...baseOptions, ...retiredOptions, ...driverOptions(mod) };
  },
  help: createHelp,
  run: runCreate,
};

/** Everything of a create request that comes from flags; shared with `swarm create`. */
export async function requestFromFlags(cli: Cli, v: Parsed['values']): Promise<Omit<CreateRequest, 'name'>> {
  const driverName = str(v['driver']);
  if (!driverName) throw new UsageError('flag needs an argument: -d');
  const mod = await loadDriver(driverName);
  const used = retiredSwarmFlags.filter((f) => v[f] !== undefined && v[f] !== false);
  if (used.length) {
    throw new UsageError(
      `--${used[0]} belongs to the retired standalone Swarm; use swarm mode instead: "${progName()} create --swarm-init NAME" or "${progName()} swarm create CLUSTER"`,
    );
  }
  const waitSeconds = Number(str(v['wait-timeout']));
  if (!Number.isFinite(waitSeconds) || waitSeconds <= 0) throw new UsageError('--wait-timeout takes a number of seconds');
  const driverFlags: Record<string, FlagValue> = {};
  for (const f of mod.flags) {
    const raw = v[f.name];
    if (raw === undefined) continue;
    if (f.type === 'int') {
      if (typeof raw !== 'string' || !/^-?\d+$/.test(raw) || Number(raw) < (f.min ?? 0)) {
        throw new UsageError(`--${f.name} takes a whole number${f.min ? ` from ${f.min}` : ''}, not "${String(raw)}"`);
      }
      driverFlags[f.name] = Number(raw);
    } else {
      driverFlags[f.name] = raw;
    }
  }
  const engine = defaultEngineOptions();
  engine.InstallURL = str(v['engine-install-url']);
  engine.ArbitraryFlags = list(v['engine-opt']);
  engine.InsecureRegistry = list(v['engine-insecure-registry']);
  engine.RegistryMirror = list(v['engine-registry-mirror']);
  engine.Labels = list(v['engine-label']);
  engine.StorageDriver = str(v['engine-storage-driver']);
  engine.Env = list(v['engine-env']);
  if (parseTransport(str(v['engine-transport']) || 'tls') === 'ssh') {
    // The none driver points at an engine it did not set up: there is nothing to make listen on SSH.
    if (driverName === 'none') throw new UsageError('--engine-transport ssh needs a driver that sets up the engine; the none driver only records the URL given to it');
    Object.assign(engine, withTransport(engine, 'ssh'));
  }
  for (const e of engine.Env) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(e)) throw new UsageError(`--engine-env "${e}" must be KEY=VALUE`);
  }
  const g = cli.globals;
  return {
    driverName,
    driverFlags,
    engine,
    tlsSans: list(v['tls-san']),
    tls: { caCertPath: g.tlsCaCert, caKeyPath: g.tlsCaKey, clientCertPath: g.tlsClientCert, clientKeyPath: g.tlsClientKey },
    log: cli.log,
    sshTimeoutMs: waitSeconds * 1000,
    signal: cli.signal,
  };
}

async function runCreate(cli: Cli, parsed: Parsed): Promise<void> {
  let name = parsed.positionals[0];
  let guided: string | undefined;
  const explicit = namedDriver(process.argv.slice(2)) !== undefined ? str(parsed.values['driver']) : undefined;
  // No name or no driver, and a person to ask: the guided choice rather than a default.
  if ((!name || !explicit) && interactive()) {
    const { guidedCreate } = await import('../guided-create.js');
    const choice = await guidedCreate({ ...(explicit ? { driverGiven: explicit } : {}), ...(name ? { nameGiven: name } : {}), drivers: builtinDriverNames(), load: loadDriver });
    const mod = await loadDriver(choice.driver);
    // The chosen driver's flags as parsing would have set them: env, then defaults, then the answers.
    for (const f of mod.flags.filter((x) => x.type === 'string' || x.type === 'int')) {
      const fromEnv = f.env ? process.env[f.env] : undefined;
      if (parsed.values[f.name] === undefined && (fromEnv || f.default !== undefined)) parsed.values[f.name] = fromEnv || String(f.default);
    }
    Object.assign(parsed.values, choice.flags, { driver: choice.driver });
    name = choice.name;
    guided = choice.commandLine;
  }
  if (!name) throw new UsageError(`Error: No machine name specified (usage: ${progName()} create -d DRIVER [OPTIONS] NAME)`);
  if (parsed.positionals.length > 1) {
    throw new UsageError(`Invalid command line: expected one machine name, got "${parsed.positionals.join(' ')}"; put flags before the name`);
  }
  const request = await requestFromFlags(cli, parsed.values);
  if (parsed.values['context'] === true) await assertContextFree(cli.store, name);
  const { swarmStepFromFlags } = await import('../../swarm/cluster.js');
  const swarm = await swarmStepFromFlags(cli.store, name, {
    init: parsed.values['swarm-init'] === true,
    join: str(parsed.values['swarm-join']),
    role: str(parsed.values['swarm-role']),
    log: cli.log,
  });
  const host = await createMachine(cli.store, { ...request, name, ...(swarm ? { afterProvision: swarm } : {}) });
  if (host.config.HostOptions.EngineOptions.Transport === 'ssh') {
    const { offerSshInclude } = await import('../ssh-include.js');
    await offerSshInclude(cli, cli.store, name, parsed.values['ssh-config'] === true);
  }
  if (parsed.values['context'] === true) {
    const context = await useMachineContext(host);
    cli.out(`Docker context "${context}" is now current: docker commands reach ${name} with no variables set`);
    return;
  }
  cli.out(
    `To see how to connect your Docker Client to the Docker Engine running on this virtual machine, run: ${progName()} env ${name}`,
  );
  if (guided) cli.out(`The same without questions: ${guided}`);
}

export default create;
