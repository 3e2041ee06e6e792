import type { Command } from '../context.js';
import { progName } from '../../errors.js';
import { VERSION } from '../../version.js';
import { oneHost } from './common.js';
import { engineVersionOf } from '../../host/connection.js';

const version: Command = {
  name: 'version',
  usage: '[arg...]',
  description: 'Show the Docker Machine version or a machine docker version',
  options: {},
  async run(cli, parsed) {
    if (!parsed.positionals.length) {
      cli.out(`${progName()} version ${VERSION}`);
      return;
    }
    const host = await oneHost(cli, parsed);
    cli.out(await engineVersionOf(host, 10_000));
  },
};
export default version;
