import type { Command } from '../context.js';
import { jsonFormat, oneHost, wantsJson } from './common.js';
import { engineUrl } from '../../host/connection.js';

const url: Command = {
  name: 'url',
  usage: '[OPTIONS] [arg...]',
  description: 'Get the URL of a machine',
  answerable: true,
  options: { ...jsonFormat },
  async run(cli, parsed) {
    const asJson = wantsJson(parsed);
    const host = await oneHost(cli, parsed);
    const u = await engineUrl(host);
    cli.out(asJson ? JSON.stringify({ Name: host.name, URL: u }) : u);
  },
};
export default url;
