import type { Command } from '../context.js';
import { forEachHost } from './common.js';

const ip: Command = {
  name: 'ip',
  usage: '[arg...]',
  description: 'Get the IP address of one or more machines',
  options: {},
  run: (cli, parsed) => forEachHost(cli, parsed, async (host) => cli.out(await host.driver.getIP())),
};
export default ip;
