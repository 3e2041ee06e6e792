import { InterruptedError, MachineError, progName } from '../errors.js';
import { createMachine, validateNewMachineName, type CreateRequest } from '../host/create.js';
import type { Host } from '../host/host.js';
import { removeMachine } from '../host/remove.js';
import { prefixedLogger, type Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { recordMembership, swarmInit, swarmJoin, type SwarmRole } from './cluster.js';

export interface ClusterPlan {
  cluster: string;
  managers: number;
  workers: number;
}

/** The nodes of a cluster and the role each is made for: recorded, never read back from a name. */
export function clusterNodes(plan: ClusterPlan): Array<{ name: string; role: SwarmRole }> {
  return [
    ...Array.from({ length: plan.managers }, (_, i) => ({ name: `${plan.cluster}-manager-${i + 1}`, role: 'manager' as const })),
    ...Array.from({ length: plan.workers }, (_, i) => ({ name: `${plan.cluster}-worker-${i + 1}`, role: 'worker' as const })),
  ];
}

/**
 * `swarm create`: every node is created at once (the slow part runs in parallel), then the
 * first manager initialises the swarm and the others join it. A failure or an interrupt
 * removes every node made, the half-made ones by their own create's rollback.
 */
export async function createCluster(
  store: Store,
  plan: ClusterPlan,
  request: Omit<CreateRequest, 'name'>,
  log: Logger,
): Promise<Host[]> {
  validateNewMachineName(plan.cluster);
  const nodes = clusterNodes(plan);
  for (const n of nodes) validateNewMachineName(n.name);
  const clash = nodes.find((n) => store.exists(n.name));
  if (clash) throw new MachineError(`Docker machine "${clash.name}" already exists: pick another cluster name or remove it first`);
  log.info(`Creating ${nodes.length} machines in parallel: ${nodes.map((n) => n.name).join(', ')}`);
  const results = await Promise.allSettled(
    nodes.map((n) => createMachine(store, { ...request, name: n.name, log: prefixedLogger(request.log, n.name) })),
  );
  const made = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ host: r.value, role: nodes[i]!.role }] : []));
  try {
    request.signal?.throwIfAborted();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [first, ...rest] = made as [{ host: Host; role: SwarmRole }, ...Array<{ host: Host; role: SwarmRole }>];
    const { membership, tokens } = await swarmInit(first.host, plan.cluster, log);
    await recordMembership(first.host, membership);
    request.signal?.throwIfAborted();
    await Promise.all(rest.map(async (n) => recordMembership(n.host, await swarmJoin(n.host, first.host, n.role, log, tokens))));
  } catch (err) {
    const interrupted = request.signal?.aborted === true;
    log.info(`Swarm "${plan.cluster}" ${interrupted ? 'interrupted' : 'failed'}; removing its ${made.length} machine(s)`);
    await Promise.all(made.map((n) => removeMachine(store, n.host.name, n.host, { force: true, log }).catch(() => undefined)));
    if (interrupted) throw new InterruptedError(`Interrupted: removed the machines of swarm "${plan.cluster}"`);
    throw err;
  }
  return made.map((n) => n.host);
}

/** `swarm rm`: every node at once; nodes go without leaving one by one, since the whole swarm goes. */
export async function removeCluster(
  store: Store,
  hosts: Host[],
  opts: { force: boolean; log: Logger; onRemoved(name: string): void; onError(err: MachineError): void },
): Promise<number> {
  let failed = 0;
  await Promise.all(
    hosts.map(async (h) => {
      try {
        await store.withLock(h.name, () => removeMachine(store, h.name, h, { force: opts.force, log: opts.log }));
        opts.onRemoved(h.name);
      } catch (err) {
        if (!(err instanceof MachineError)) throw err;
        opts.onError(err);
        failed++;
      }
    }),
  );
  return failed;
}

export function clusterHint(first: string): string {
  return `To point your Docker Client at it, run: eval $(${progName()} env ${first})`;
}
