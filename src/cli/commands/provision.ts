import type { Command } from '../context.js';
import { forEachHostParallel } from './common.js';
import { provisionMachine } from '../../host/provision.js';
import { assertRunning } from '../../host/lifecycle.js';

const provision: Command = {
  name: 'provision',
  usage: '[arg...]',
  description: 'Re-provision existing machines',
  options: {},
  run: (cli, parsed) =>
    forEachHostParallel(cli, parsed, async (host) => {
      await host.store.withLock(host.name, async () => {
        await assertRunning(host);
        const result = await provisionMachine(host, cli.log, { signal: cli.signal });
        cli.log.info(result.changed.length ? `${host.name}: changed ${result.changed.join(', ')}` : `${host.name}: nothing to change`);
      });
    }),
};
export default provision;
