import { MachineError, progName } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { Host } from './host.js';
import { dropContext } from './context.js';

/**
 * Removes the driver's resources, then the record. Without --force a driver failure keeps
 * the record, so nothing made by the machine is forgotten while it still exists.
 * beforeRemove runs first (a swarm member leaves its swarm); its failure does not stop rm.
 */
export async function removeMachine(
  store: Store,
  name: string,
  host: Host | undefined,
  opts: { force: boolean; log: Logger; beforeRemove?: (host: Host, log: Logger) => Promise<void> },
): Promise<void> {
  if (host && opts.beforeRemove) {
    await opts.beforeRemove(host, opts.log).catch((err: Error) => opts.log.debug(`before removing ${name}: ${err.message}`));
  }
  if (host) {
    try {
      await host.driver.remove();
    } catch (err) {
      if (!opts.force) {
        throw new MachineError(
          `Error removing host "${name}": ${(err as Error).message} (use "${progName()} rm -f ${name}" to remove the local record anyway)`,
          { cause: err },
        );
      }
      opts.log.info(`Driver could not remove "${name}" (${(err as Error).message}); removing the local record anyway`);
    }
  }
  await store.remove(name);
  await dropContext(store, name, opts.log);
}
