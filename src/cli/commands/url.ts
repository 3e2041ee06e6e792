import type { Command } from '../context.js';
import { oneHost } from './common.js';

const url: Command = {
  name: 'url',
  usage: '[arg...]',
  description: 'Get the URL of a machine',
  options: {},
  async run(cli, parsed) {
    const host = await oneHost(cli, parsed);
    const { engineUrl } = await import('../../host/connection.js');
    cli.out(await engineUrl(host));
  },
};
export default url;
