import { progName } from '../errors.js';
import type { Store } from '../store/store.js';
import type { Cli } from './context.js';
import { confirm } from './prompt.js';

/**
 * After a machine reached over SSH was made or switched: the user's ~/.ssh/config needs our
 * Include for the docker CLI's ssh to check the pinned key. Added when --ssh-config allows it,
 * asked once on a terminal, otherwise one line says how.
 */
export async function offerSshInclude(cli: Cli, store: Store, machineName: string, allowed: boolean): Promise<void> {
  const inc = await import('../host/ssh-config.js');
  const state = inc.sshIncludeState(store);
  if (state === 'included') return;
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  let yes = allowed;
  if (!yes && state === 'absent' && interactive) {
    yes = await confirm(`Add an Include of this store's ssh_config to ${inc.userSshConfigPath()}, so that ssh and the docker CLI check the machines' pinned host keys? (y/n): `);
    if (!yes) await inc.declineSshInclude(store);
  }
  if (yes) {
    await inc.addSshInclude(store);
    cli.out(`Added the machines' SSH entries to ${inc.userSshConfigPath()}: "ssh machine-${machineName}" and the docker CLI use its pinned host key`);
  } else {
    cli.out(inc.includeAdvice(store, machineName, progName()));
  }
}
