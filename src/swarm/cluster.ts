import { MachineError, UsageError, progName } from '../errors.js';
import type { Logger } from '../log.js';
import { loadHost, type Host } from '../host/host.js';
import { connectHost } from '../host/ssh.js';
import type { SshSession } from '../host/provision.js';
import { rootRemote, shQuote, type Remote } from '../provision/remote.js';
import type { Store } from '../store/store.js';

export type SwarmRole = 'manager' | 'worker';

/** fn on the machine as root, over `open` when the caller has a session (left open), else a new one. */
async function withRemote<T>(host: Host, log: Logger, fn: (r: Remote) => Promise<T>, open?: SshSession): Promise<T> {
  if (open) return fn(rootRemote(open, host.driver.getSSHUsername()));
  const session = await connectHost(host, log);
  try {
    return await fn(rootRemote(session, host.driver.getSSHUsername()));
  } finally {
    session.close();
  }
}

/** The address other nodes reach this one at: the driver's private address where it has one. */
export async function advertiseAddress(host: Host): Promise<string> {
  return host.driver.getPrivateIP ? host.driver.getPrivateIP() : host.driver.getIP();
}

export interface Membership {
  Cluster: string;
  Role: SwarmRole;
}

/** The tokens that let a node join as a worker or a manager. They are secrets: never stored. */
export interface JoinTokens {
  worker: string;
  manager: string;
}

// Each step is one command on one SSH session: a session costs sshd a login (about 0.1 s on a
// container host), and a swarm from nothing was four of them in a row beyond the creates.
const PRINT_TOKENS = 'docker swarm join-token -q worker && docker swarm join-token -q manager';

function parseTokens(out: string, where: string): JoinTokens {
  const [worker, manager] = out.trim().split('\n').map((l) => l.trim());
  if (!worker || !manager) throw new MachineError(`Could not read the swarm join tokens from ${where}`);
  return { worker, manager };
}

/**
 * `docker swarm init` on the machine, which becomes the first manager of cluster (already a
 * swarm member: left as it is). Returns the join tokens from the same command, for the nodes
 * created with it.
 */
export async function swarmInit(host: Host, cluster: string, log: Logger, session?: SshSession): Promise<{ membership: Membership; tokens: JoinTokens }> {
  const addr = await advertiseAddress(host);
  log.info(`Initialising swarm "${cluster}" on ${host.name} (advertise ${addr})...`);
  const out = await withRemote(host, log, (r) =>
    r.run(
      `s=$(docker info --format '{{.Swarm.LocalNodeState}}') && { [ "$s" = active ] || docker swarm init --advertise-addr ${shQuote(addr)} >/dev/null; } && ${PRINT_TOKENS}`,
    ),
    session,
  );
  return { membership: { Cluster: cluster, Role: 'manager' }, tokens: parseTokens(out, host.name) };
}

/** The manager's cluster; a machine that is not a swarm manager is refused with how to make one. */
export function assertManager(manager: Host): string {
  const cluster = manager.config.SwarmMode?.Cluster;
  if (!cluster || manager.config.SwarmMode?.Role !== 'manager') {
    throw new MachineError(
      `Machine "${manager.name}" is not a swarm manager: make one with "${progName()} create --swarm-init ${manager.name}" or name a manager of an existing swarm`,
    );
  }
  return cluster;
}

/** The join tokens, from a manager that is active and can lead (checked in the same command). */
export async function joinTokens(manager: Host, log: Logger): Promise<JoinTokens> {
  const r = await withRemote(manager, log, (rem) =>
    rem.exec(`s=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}') || exit 1; [ "$s" = 'active true' ] || { echo "$s"; exit 3; }; ${PRINT_TOKENS}`),
  );
  if (r.code === 3) throw new MachineError(`Machine "${manager.name}" is not an active swarm manager (swarm state: ${r.stdout.trim()})`);
  if (r.code !== 0) throw new MachineError(`Could not ask ${manager.name} for the swarm join tokens: ${(r.stderr.trim() || r.stdout.trim()).split('\n').pop()}`);
  return parseTokens(r.stdout, manager.name);
}

/** Joins host to the swarm that manager leads (a member already is left as it is); tokens when the caller has them. */
export async function swarmJoin(
  host: Host,
  manager: Host,
  role: SwarmRole,
  log: Logger,
  opts: { tokens?: JoinTokens; session?: SshSession } = {},
): Promise<Membership> {
  const cluster = assertManager(manager);
  const managerAddr = await advertiseAddress(manager);
  const token = (opts.tokens ?? (await joinTokens(manager, log)))[role];
  const addr = await advertiseAddress(host);
  log.info(`Joining ${host.name} to swarm "${cluster}" as ${role}...`);
  // The token goes on stdin: not in --debug's command lines nor in the host's process list.
  await withRemote(host, log, (r) =>
    r.run(
      `t=$(cat) && s=$(docker info --format '{{.Swarm.LocalNodeState}}') && { [ "$s" = active ] || docker swarm join --token "$t" --advertise-addr ${shQuote(addr)} ${shQuote(`${managerAddr}:2377`)}; }`,
      { stdin: `${token}\n` },
    ),
    opts.session,
  );
  return { Cluster: cluster, Role: role };
}

/** Store machines that belong to cluster, managers first. */
export async function clusterMembers(store: Store, cluster: string): Promise<Host[]> {
  const hosts: Host[] = [];
  for (const name of await store.list()) {
    const cfg = await store.load(name).catch(() => undefined);
    if (cfg?.SwarmMode?.Cluster === cluster) hosts.push(await loadHost(store, name));
  }
  const rank = (h: Host) => (h.config.SwarmMode?.Role === 'manager' ? 0 : 1);
  return hosts.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

/**
 * Before a member is removed: it leaves, and a remaining manager forgets it, so the node
 * list does not keep a dead entry. Best effort: a machine that is already gone cannot leave.
 */
export async function leaveSwarm(host: Host, log: Logger): Promise<void> {
  const cluster = host.config.SwarmMode?.Cluster;
  if (!cluster) return;
  const nodeId = await withRemote(host, log, async (r) => {
    const id = (await r.exec(`docker info --format '{{.Swarm.NodeID}}'`)).stdout.trim();
    await r.exec('docker swarm leave --force');
    return id;
  }).catch((err: Error) => {
    log.debug(`${host.name} could not leave the swarm: ${err.message}`);
    return '';
  });
  const managers = (await clusterMembers(host.store, cluster)).filter(
    (m) => m.name !== host.name && m.config.SwarmMode?.Role === 'manager',
  );
  for (const m of managers) {
    try {
      if ((await m.driver.getState()) !== 'Running') continue;
      await withRemote(m, log, async (r) => {
        const target = nodeId || host.name;
        // The node needs a moment to show as down after leaving; --force removes it anyway.
        await r.run(`docker node rm --force ${shQuote(target)}`);
      });
      return;
    } catch (err) {
      log.debug(`manager ${m.name} could not remove ${host.name}: ${(err as Error).message}`);
    }
  }
}

/** What `swarm inspect` shows of the cluster, from a running manager's point of view. */
export async function nodeList(manager: Host, log: Logger): Promise<string> {
  return withRemote(manager, log, (r) =>
    r.run(`docker node ls --format '{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}'`),
  );
}

export const SWARM_ROLES: readonly SwarmRole[] = ['worker', 'manager'];

/**
 * `create --swarm-init` / `--swarm-join MANAGER [--swarm-role R]`: checked before anything
 * is made; returns the step create runs once the engine is up (inside its rollback).
 */
export async function swarmStepFromFlags(
  store: Store,
  name: string,
  opts: { init: boolean; join: string; role: string; log: Logger },
): Promise<((host: Host, session?: SshSession) => Promise<{ SwarmMode: Membership }>) | undefined> {
  const role = opts.role as SwarmRole;
  if (!SWARM_ROLES.includes(role)) throw new UsageError(`--swarm-role must be worker or manager, not "${opts.role}"`);
  if (!opts.init && !opts.join) return undefined;
  if (opts.init && opts.join) throw new UsageError('--swarm-init and --swarm-join exclude each other');
  if (opts.init) return async (host, session) => ({ SwarmMode: (await swarmInit(host, name, opts.log, session)).membership });
  const manager = await loadHost(store, opts.join, opts.log);
  assertManager(manager);
  return async (host, session) => ({ SwarmMode: await swarmJoin(host, manager, role, opts.log, session ? { session } : {}) });
}

/** For `env --swarm` / `config --swarm`: a running manager of the machine's swarm-mode cluster. */
export async function swarmManagerOf(host: Host): Promise<Host> {
  const cluster = host.config.SwarmMode?.Cluster;
  if (!cluster) throw new MachineError(`Machine "${host.name}" is not part of a swarm`);
  if (host.config.SwarmMode?.Role === 'manager') return host;
  for (const name of await host.store.list()) {
    const other = await host.store.load(name).catch(() => undefined);
    if (other?.SwarmMode?.Cluster === cluster && other.SwarmMode.Role === 'manager') {
      const candidate = await loadHost(host.store, name);
      if ((await candidate.driver.getState()) === 'Running') return candidate;
    }
  }
  throw new MachineError(`No running manager found for swarm "${cluster}"`);
}

/** The before-remove hook for `rm`: a swarm member leaves first; anything else goes as it is. */
export async function leaveBeforeRemove(host: Host, log: Logger): Promise<void> {
  if (host.config.SwarmMode) await leaveSwarm(host, log);
}
