import { confirm } from '../prompt.js';
import type { Command } from '../context.js';
import { forEachHostParallel, progressOption } from './common.js';
import { provisionMachine } from '../../host/provision.js';
import { assertRunning } from '../../host/lifecycle.js';

const regenerateCerts: Command = {
  name: 'regenerate-certs',
  usage: '[OPTIONS] [arg...]',
  description: 'Regenerate TLS Certificates for a machine',
  options: {
    ...progressOption,
    force: { type: 'boolean', short: 'f', description: 'Force rebuild and do not prompt' },
    'client-certs': { type: 'boolean', description: 'Also regenerate client certificates and CA.' },
  },
  async run(cli, parsed) {
    if (!parsed.values['force'] && !(await confirm('Regenerate TLS machine certs?  Warning: this is irreversible. (y/n): '))) {
      cli.err('Aborting: no certificate was changed');
      return 1;
    }
    if (parsed.values['client-certs']) {
      const { regenerateCA } = await import('../../host/regenerate.js');
      await regenerateCA(cli.store, cli.log);
    }
    return forEachHostParallel(cli, parsed, async (host) => {
      cli.out('Regenerating TLS certificates');
      await host.store.withLock(host.name, async () => {
        await assertRunning(host);
        await provisionMachine(host, cli.log, { forceCerts: true });
      });
    });
  },
};
export default regenerateCerts;
