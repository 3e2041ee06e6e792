import type { Command } from '../context.js';
import { forEachHostParallel, progressOption } from './common.js';
import { upgradeEngine } from '../../host/upgrade.js';

const upgrade: Command = {
  name: 'upgrade',
  usage: '[arg...]',
  description: 'Upgrade a machine to the latest version of Docker',
  options: { ...progressOption },
  run: (cli, parsed) =>
    forEachHostParallel(cli, parsed, async (host) => {
      await host.store.withLock(host.name, () => upgradeEngine(host, cli.log));
    }),
};
export default upgrade;
