import { ask, confirm, interactive } from '../prompt.js';
import type { Store } from '../../store/store.js';
import { HostDoesNotExistError, MachineError, UsageError } from '../../errors.js';
import type { Command } from '../context.js';
import { progressOption } from './common.js';
import { loadHost } from '../../host/host.js';
import { removeMachine } from '../../host/remove.js';

async function confirmRemoval(store: Store, names: string[]): Promise<boolean> {
  if (!interactive()) {
    // Docker Machine's words, for the scripts that pipe "y" into them.
    process.stdout.write(`About to remove ${names.join(', ')}\nWARNING: This action will delete both local reference and remote instance.\n`);
    return confirm('Are you sure? (y/n): ');
  }
  // A person: name what goes with each machine, the cloud resources too.
  const lines = await Promise.all(
    names.map(async (name) => {
      const host = await loadHost(store, name).catch(() => undefined);
      const what = host?.driver.describeRemoval?.() ?? (host ? `what the ${host.config.DriverName} driver made for it` : 'its record');
      return `  ${name}: ${what}`;
    }),
  );
  process.stdout.write(`About to remove:\n${lines.join('\n')}\n`);
  return ask(names.length === 1 ? `Remove ${names[0]}?` : `Remove these ${names.length} machines?`);
}

const rm: Command = {
  name: 'rm',
  usage: '[OPTIONS] [arg...]',
  description: 'Remove a machine',
  options: {
    ...progressOption,
    force: { type: 'boolean', short: 'f', description: 'Remove local configuration even if machine cannot be removed, also implies an automatic yes (`-y`)' },
    y: { type: 'boolean', short: 'y', description: 'Assumes automatic yes to proceed with remove, without prompting further user confirmation' },
  },
  async run(cli, parsed) {
    const names = parsed.positionals;
    if (!names.length) throw new UsageError('Error: Expected to get one or more machine names as arguments');
    const force = parsed.values['force'] === true;
    if (!force && !parsed.values['y'] && !(await confirmRemoval(cli.store, names))) {
      cli.err('Aborting removal: nothing was changed');
      return 1;
    }
    const { leaveBeforeRemove } = await import('../../swarm/cluster.js');
    // Every machine at once, as Docker Machine did; each under its own lock.
    let failed = 0;
    await Promise.all(
      names.map(async (name) => {
        try {
          await cli.store.withLock(name, async () => {
            if (!(await cli.store.hasDir(name))) throw new HostDoesNotExistError(name);
            const host = await loadHost(cli.store, name, cli.log).catch((err: unknown) => {
              // A machine whose config is unreadable can still be forgotten with -f.
              if (force && err instanceof MachineError) return undefined;
              throw err;
            });
            await removeMachine(cli.store, name, host, { force, log: cli.log, beforeRemove: leaveBeforeRemove });
          });
          cli.out(`Successfully removed ${name}`);
        } catch (err) {
          if (!(err instanceof MachineError)) throw err;
          cli.err(err.message);
          failed++;
        }
      }),
    );
    return failed ? 1 : 0;
  },
};
export default rm;
