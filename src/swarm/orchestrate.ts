import { InterruptedError, MachineError, progName } from '../errors.js';
import { createMachine, validateNewMachineName, type CreateRequest } from '../host/create.js';
import type { Host } from '../host/host.js';
import { removeMachine } from '../host/remove.js';
import { prefixedLogger, type Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { swarmInit, swarmJoin, type JoinTokens, type SwarmRole } from './cluster.js';

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
 * `swarm create`: every node is created at once (the slow part runs in parallel). The first
 * manager initialises the swarm as the last step of its own create, and each other node joins
 * as the last step of its create, as soon as both it and the swarm are ready; each step runs
 * on its create's SSH session. No node is made before every node passed its pre-create
 * checks. A failure or an interrupt removes every node made, the half-made ones by their own
 * create's rollback.
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
  // The swarm as the first manager made it, for the joins: its tokens (never stored) and itself.
  let swarmReady!: (s: { manager: Host; tokens: JoinTokens }) => void;
  let swarmFailed!: (err: unknown) => void;
  const swarm = new Promise<{ manager: Host; tokens: JoinTokens }>((resolve, reject) => ((swarmReady = resolve), (swarmFailed = reject)));
  swarm.catch(() => undefined);
  // Every node passes its pre-create checks before any is made: one that cannot be made (a
  // name taken on the engine, a missing image) ends them all with nothing to remove.
  let checked = 0;
  let allChecked!: () => void;
  let notAll!: (err: unknown) => void;
  const checks = new Promise<void>((resolve, reject) => ((allChecked = resolve), (notAll = reject)));
  checks.catch(() => undefined);
  const afterChecks = async () => {
    if (++checked === nodes.length) allChecked();
    await checks;
  };
  const results = await Promise.allSettled(
    nodes.map((n, i) => {
      const afterProvision: CreateRequest['afterProvision'] =
        i === 0
          ? async (host, session) => {
              const { membership, tokens } = await swarmInit(host, plan.cluster, log, session);
              host.config.SwarmMode = membership;
              swarmReady({ manager: host, tokens });
              return { SwarmMode: membership };
            }
          : async (host, session) => {
              const { manager, tokens } = await swarm;
              return { SwarmMode: await swarmJoin(host, manager, n.role, log, { tokens, ...(session ? { session } : {}) }) };
            };
      const made = createMachine(store, { ...request, name: n.name, log: prefixedLogger(request.log, n.name), afterProvision, afterChecks });
      // Once all are checked this settles nothing: a later failure is each node's own.
      made.catch(notAll);
      // The others would wait for a swarm that will never be.
      if (i === 0) made.catch((err: unknown) => swarmFailed(new MachineError(`swarm "${plan.cluster}" was not initialised: ${(err as Error).message}`)));
      return made;
    }),
  );
  const made = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    request.signal?.throwIfAborted();
    // The first manager's own failure says most; the others' only repeat it.
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    const interrupted = request.signal?.aborted === true;
    if (made.length) log.info(`Swarm "${plan.cluster}" ${interrupted ? 'interrupted' : 'failed'}; removing its ${made.length} machine(s)`);
    await Promise.all(made.map((host) => removeMachine(store, host.name, host, { force: true, log }).catch(() => undefined)));
    if (interrupted) throw new InterruptedError(`Interrupted: removed the machines of swarm "${plan.cluster}"`);
    throw err;
  }
  return made;
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
