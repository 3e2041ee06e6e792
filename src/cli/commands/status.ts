import type { Command } from '../context.js';
import { jsonFormat, oneHost, wantsJson } from './common.js';

const status: Command = {
  name: 'status',
  usage: '[OPTIONS] [arg...]',
  description: 'Get the status of a machine',
  options: { ...jsonFormat },
  async run(cli, parsed) {
    const asJson = wantsJson(parsed);
    const host = await oneHost(cli, parsed);
    const state = await host.driver.getState();
    cli.out(asJson ? JSON.stringify({ Name: host.name, State: state }) : state);
  },
};
export default status;
