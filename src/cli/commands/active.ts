import { MachineError } from '../../errors.js';
import type { Command } from '../context.js';
import { str } from '../args.js';
import { activeMachineName } from '../../host/listing.js';

const active: Command = {
  name: 'active',
  usage: '[OPTIONS] [arg...]',
  description: 'Print which machine is active',
  answerable: true,
  options: {
    timeout: { type: 'string', short: 't', description: 'Timeout in seconds, default to 10s', default: '10', placeholder: 'seconds' },
  },
  async run(cli, parsed) {
    // DOCKER_HOST, or else the docker CLI's current context when machine made it.
    const name = await activeMachineName(cli.store, Number(str(parsed.values['timeout'])) * 1000);
    if (!name) throw new MachineError('No active host found');
    cli.out(name);
  },
};
export default active;
