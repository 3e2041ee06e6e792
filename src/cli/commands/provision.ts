import type { Command } from '../context.js';
import { str } from '../args.js';
import { forEachHostParallel, progressOption } from './common.js';
import { provisionMachine } from '../../host/provision.js';
import { assertRunning } from '../../host/lifecycle.js';
import { parseTransport, transportOf, withTransport } from '../../host/transport.js';

const provision: Command = {
  name: 'provision',
  usage: '[OPTIONS] [arg...]',
  description: 'Re-provision existing machines',
  options: {
    ...progressOption,
    'engine-transport': { type: 'string', description: 'Switch how the docker CLI reaches the engine: "tls" or "ssh"', placeholder: 'tls|ssh' },
    'ssh-config': { type: 'boolean', description: "Allow adding an Include of the machines' SSH entries to ~/.ssh/config" },
  },
  async run(cli, parsed) {
    // Checked before any machine is touched.
    const flag = str(parsed.values['engine-transport']);
    const transport = flag ? parseTransport(flag) : undefined;
    const overSsh: string[] = [];
    const code = await forEachHostParallel(cli, parsed, async (host) => {
      await host.store.withLock(host.name, async () => {
        await assertRunning(host);
        const before = transportOf(host.config.HostOptions.EngineOptions);
        if (transport && transport !== before) {
          cli.log.info(`${host.name}: switching the engine from ${before} to ${transport}...`);
          host.config.HostOptions.EngineOptions = withTransport(host.config.HostOptions.EngineOptions, transport);
        }
        const result = await provisionMachine(host, cli.log, { signal: cli.signal, proxyFromEnvironment: true });
        // Recorded once the engine listens the new way: a failure leaves the record as the host was.
        if (transport && transport !== before) await host.store.save(host.config);
        if (transportOf(host.config.HostOptions.EngineOptions) === 'ssh') overSsh.push(host.name);
        cli.log.info(result.changed.length ? `${host.name}: changed ${result.changed.join(', ')}` : `${host.name}: nothing to change`);
      });
    });
    if (overSsh.length) {
      const { offerSshInclude } = await import('../ssh-include.js');
      await offerSshInclude(cli, cli.store, overSsh[0]!, parsed.values['ssh-config'] === true);
    }
    return code;
  },
};
export default provision;
