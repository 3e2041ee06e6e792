import type { Command } from '../context.js';
import { forEachHost } from './common.js';
import { provisionMachine } from '../../host/provision.js';
import { HostNotRunningError } from '../../errors.js';

const provision: Command = {
  name: 'provision',
  usage: '[arg...]',
  description: 'Re-provision existing machines',
  options: {},
  run: (cli, parsed) =>
    forEachHost(cli, parsed, async (host) => {
      await host.store.withLock(host.name, async () => {
        if ((await host.driver.getState()) !== 'Running') throw new HostNotRunningError(host.name);
        const result = await provisionMachine(host, cli.log);
        cli.log.info(result.changed.length ? `Changed: ${result.changed.join(', ')}` : 'Nothing to change');
      });
    }),
};
export default provision;
