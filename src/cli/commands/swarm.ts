import { DriverNotFoundError, MachineError, UsageError, progName } from '../../errors.js';
import type { Cli, Command } from '../context.js';
import { str, type OptionSpecs, type Parsed } from '../args.js';
import { loadDriverWithFlags as loadDriver } from '../../host/drivers.js';
import { baseOptions, driverOptions, findDriverName, requestFromFlags } from './create.js';
import { tabwrite } from '../table.js';
import { progressOption } from './common.js';
import type { Host } from '../../host/host.js';

const createOptions: OptionSpecs = {
  managers: { type: 'string', description: 'Number of manager nodes', default: '1', placeholder: 'N' },
  workers: { type: 'string', description: 'Number of worker nodes', default: '0', placeholder: 'N' },
};
const rmOptions: OptionSpecs = {
  ...progressOption,
  force: { type: 'boolean', short: 'f', description: 'Remove local records even if a node cannot be removed' },
  y: { type: 'boolean', short: 'y', description: 'Do not ask for confirmation' },
};

function count(v: Parsed['values'], key: string, min: number): number {
  const n = Number(str(v[key]));
  if (!Number.isInteger(n) || n < min || n > 50) throw new UsageError(`--${key} takes a whole number from ${min} to 50`);
  return n;
}

async function members(cli: Cli, cluster: string): Promise<Host[]> {
  const { clusterMembers } = await import('../../swarm/cluster.js');
  const hosts = await clusterMembers(cli.store, cluster);
  if (!hosts.length) throw new MachineError(`Swarm "${cluster}" does not exist. Use "${progName()} swarm ls" to list swarms.`);
  return hosts;
}

async function swarmCreate(cli: Cli, parsed: Parsed): Promise<number> {
  const cluster = parsed.positionals[1];
  if (!cluster) throw new UsageError(`Usage: ${progName()} swarm create CLUSTER -d DRIVER --managers M --workers W [driver flags]`);
  const managers = count(parsed.values, 'managers', 1);
  const workers = count(parsed.values, 'workers', 0);
  const request = await requestFromFlags(cli, parsed.values);
  const { createCluster, clusterHint } = await import('../../swarm/orchestrate.js');
  const hosts = await createCluster(cli.store, { cluster, managers, workers }, request, cli.log);
  cli.out(`Swarm "${cluster}" is ready: ${managers} manager(s), ${workers} worker(s).`);
  cli.out(clusterHint(hosts[0]!.name));
  return 0;
}

async function swarmLs(cli: Cli): Promise<number> {
  const clusters = new Map<string, { managers: string[]; workers: string[] }>();
  for (const name of await cli.store.list()) {
    const cfg = await cli.store.load(name).catch(() => undefined);
    const s = cfg?.SwarmMode;
    if (!s) continue;
    const entry = clusters.get(s.Cluster) ?? { managers: [], workers: [] };
    (s.Role === 'manager' ? entry.managers : entry.workers).push(name);
    clusters.set(s.Cluster, entry);
  }
  const rows = [['NAME', 'MANAGERS', 'WORKERS', 'NODES']];
  for (const [name, e] of [...clusters].sort(([a], [b]) => a.localeCompare(b))) {
    rows.push([name, String(e.managers.length), String(e.workers.length), [...e.managers, ...e.workers].join(',')]);
  }
  cli.out(tabwrite(rows));
  return 0;
}

async function swarmInspect(cli: Cli, parsed: Parsed): Promise<number> {
  const cluster = parsed.positionals[1];
  if (!cluster) throw new UsageError(`Usage: ${progName()} swarm inspect CLUSTER`);
  const hosts = await members(cli, cluster);
  const rows = [['MACHINE', 'ROLE', 'DRIVER', 'STATE', 'URL']];
  let manager: Host | undefined;
  for (const h of hosts) {
    const state = await h.driver.getState().catch(() => 'Error' as const);
    if (!manager && state === 'Running' && h.config.SwarmMode?.Role === 'manager') manager = h;
    const url = state === 'Running' ? await h.driver.getURL().catch(() => '') : '';
    rows.push([h.name, h.config.SwarmMode!.Role, h.config.DriverName, state, url]);
  }
  cli.out(tabwrite(rows));
  if (manager) {
    const { nodeList } = await import('../../swarm/cluster.js');
    const nodes = (await nodeList(manager, cli.log)).trim().split('\n').filter(Boolean);
    cli.out('');
    cli.out(tabwrite([['NODE', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS'], ...nodes.map((l) => l.split('\t'))]));
  }
  return 0;
}

async function swarmRm(cli: Cli, parsed: Parsed): Promise<number> {
  const cluster = parsed.positionals[1];
  if (!cluster) throw new UsageError(`Usage: ${progName()} swarm rm [-y] [-f] CLUSTER`);
  const hosts = await members(cli, cluster);
  const force = parsed.values['force'] === true;
  if (!force && !parsed.values['y']) {
    const { confirm } = await import('../prompt.js');
    process.stdout.write(`About to remove swarm "${cluster}" and its machines ${hosts.map((h) => h.name).join(', ')}\n`);
    if (!(await confirm('Are you sure? (y/n): '))) return 1;
  }
  const { removeCluster } = await import('../../swarm/orchestrate.js');
  const failed = await removeCluster(cli.store, hosts, {
    force,
    log: cli.log,
    onRemoved: (name) => cli.out(`Successfully removed ${name}`),
    onError: (err) => cli.err(err.message),
  });
  return failed ? 1 : 0;
}

const swarm: Command = {
  name: 'swarm',
  usage: 'create|ls|inspect|rm [OPTIONS] [CLUSTER]',
  description:
    'Manage swarm-mode clusters of machines.\n\n' +
    '  swarm create CLUSTER -d DRIVER --managers M --workers W [create flags]   create nodes in parallel and form the swarm\n' +
    '  swarm ls                                                                 list clusters\n' +
    '  swarm inspect CLUSTER                                                    nodes, roles and state\n' +
    '  swarm rm [-y] [-f] CLUSTER                                               remove every node',
  options: { ...rmOptions },
  async resolveOptions(args) {
    if (args[0] !== 'create') return rmOptions;
    // Only a driver that does not exist is left to run to report; a plugin that fails
    // to start says so here.
    const mod = await loadDriver(findDriverName(args) || 'virtualbox').catch((err: unknown) => {
      if (err instanceof DriverNotFoundError) return undefined;
      throw err;
    });
    return { ...baseOptions, ...createOptions, ...(mod ? driverOptions(mod) : {}) };
  },
  async run(cli, parsed) {
    switch (parsed.positionals[0]) {
      case 'create':
        return swarmCreate(cli, parsed);
      case 'ls':
        return swarmLs(cli);
      case 'inspect':
        return swarmInspect(cli, parsed);
      case 'rm':
        return swarmRm(cli, parsed);
      default:
        throw new UsageError(`Usage: ${progName()} swarm create|ls|inspect|rm (see "${progName()} swarm --help")`);
    }
  },
};
export default swarm;
