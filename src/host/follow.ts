import type { Logger } from '../log.js';
import { followContext } from './context.js';
import type { Host } from './host.js';
import { writeMachineSshConfig } from './ssh-config.js';

/**
 * What outside machine's store points at the machine (its ssh entry, its docker context), kept
 * current after anything that may change its address, port or certificates. Never fails the
 * command: each says what it could not update.
 */
export async function followMachine(host: Host, log: Logger): Promise<void> {
  await writeMachineSshConfig(host, log);
  await followContext(host, log);
}
