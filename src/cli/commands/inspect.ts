import type { Command } from '../context.js';
import { str } from '../args.js';
import { oneHost } from './common.js';

const inspect: Command = {
  name: 'inspect',
  usage: '[OPTIONS] [arg...]',
  description: 'Inspect information about a machine',
  options: {
    format: { type: 'string', short: 'f', description: 'Format the output using the given go template', placeholder: 'template' },
  },
  async run(cli, parsed) {
    const host = await oneHost(cli, parsed);
    const data = { ...host.config, Driver: host.driver.config() };
    const format = str(parsed.values['format']);
    if (!format) {
      cli.out(JSON.stringify(data, null, 4));
      return;
    }
    const { renderTemplate } = await import('../../template/go-template.js');
    cli.out(renderTemplate(format, data));
  },
};
export default inspect;
