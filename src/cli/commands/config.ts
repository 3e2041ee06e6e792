import type { Command } from '../context.js';
import { oneHost } from './common.js';
import { connectionInfo } from '../../host/connection.js';

const config: Command = {
  name: 'config',
  usage: '[OPTIONS] [arg...]',
  description: 'Print the connection config for machine',
  answerable: true,
  options: {
    swarm: { type: 'boolean', description: 'Display the Swarm config instead of the Docker daemon' },
  },
  async run(cli, parsed) {
    const host = await oneHost(cli, parsed);
    const target = parsed.values['swarm'] ? await (await import('../../swarm/cluster.js')).swarmManagerOf(host) : host;
    const info = await connectionInfo(target);
    if (!info.tls) {
      cli.out(`-H=${info.url}`);
      return;
    }
    cli.out(
      [
        '--tlsverify',
        `--tlscacert="${info.caCertPath}"`,
        `--tlscert="${info.clientCertPath}"`,
        `--tlskey="${info.clientKeyPath}"`,
        `-H=${info.url}`,
      ].join('\n'),
    );
  },
};
export default config;
