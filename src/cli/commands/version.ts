import type { Command } from '../context.js';
import { progName } from '../../errors.js';
import { VERSION } from '../../version.js';
import { jsonFormat, oneHost, wantsJson } from './common.js';
import { engineVersionOf } from '../../host/connection.js';

const version: Command = {
  name: 'version',
  usage: '[OPTIONS] [arg...]',
  description: 'Show the Docker Machine version or a machine docker version',
  options: { ...jsonFormat },
  async run(cli, parsed) {
    const asJson = wantsJson(parsed);
    if (!parsed.positionals.length) {
      cli.out(asJson ? JSON.stringify({ Version: VERSION }) : `${progName()} version ${VERSION}`);
      return;
    }
    const host = await oneHost(cli, parsed);
    const engine = await engineVersionOf(host, 10_000);
    cli.out(asJson ? JSON.stringify({ Version: VERSION, Name: host.name, EngineVersion: engine }) : engine);
  },
};
export default version;
