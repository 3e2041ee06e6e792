import type { Command } from '../context.js';
import { forEachHost, jsonFormat, wantsJson } from './common.js';

const ip: Command = {
  name: 'ip',
  usage: '[OPTIONS] [arg...]',
  description: 'Get the IP address of one or more machines',
  answerable: true,
  options: { ...jsonFormat },
  async run(cli, parsed) {
    if (!wantsJson(parsed)) return forEachHost(cli, parsed, async (host) => cli.out(await host.driver.getIP()));
    // One array, in the order given; a machine that failed is in it with its error.
    const out: Array<{ Name: string; IP?: string; Error?: string }> = [];
    const code = await forEachHost({ ...cli, err: (e) => void out.push({ Name: '', Error: e }) }, parsed, async (host) => void out.push({ Name: host.name, IP: await host.driver.getIP() }));
    cli.out(JSON.stringify(out));
    return code;
  },
};
export default ip;
