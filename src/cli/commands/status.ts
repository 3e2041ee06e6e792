import type { Command } from '../context.js';
import { oneHost } from './common.js';

const status: Command = {
  name: 'status',
  usage: '[arg...]',
  description: 'Get the status of a machine',
  options: {},
  async run(cli, parsed) {
    const host = await oneHost(cli, parsed);
    cli.out(await host.driver.getState());
  },
};
export default status;
