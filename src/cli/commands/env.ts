import { UsageError, progName } from '../../errors.js';
import type { Command } from '../context.js';
import { str } from '../args.js';
import { machineNames } from './common.js';
import { detectShell, shellSyntax } from '../shell.js';
import { loadHost } from '../../host/host.js';
import { connectionInfo } from '../../host/connection.js';
import { ensureContext } from '../../host/context.js';

const VARS = ['DOCKER_TLS_VERIFY', 'DOCKER_HOST', 'DOCKER_CERT_PATH', 'DOCKER_MACHINE_NAME'];

const env: Command = {
  name: 'env',
  usage: '[OPTIONS] [arg...]',
  description: 'Display the commands to set up the environment for the Docker client',
  answerable: true,
  options: {
    swarm: { type: 'boolean', description: 'Display the Swarm config instead of the Docker daemon' },
    shell: { type: 'string', description: 'Force environment to be configured for a specified shell: [fish, cmd, powershell, tcsh, emacs, bash, zsh], default is auto-detect', placeholder: 'shell' },
    unset: { type: 'boolean', short: 'u', description: 'Unset variables instead of setting them' },
    'no-proxy': { type: 'boolean', description: 'Add machine IP to NO_PROXY environment variable' },
    context: { type: 'boolean', description: "Set DOCKER_CONTEXT to the machine's docker context (made or updated now) instead of DOCKER_HOST" },
  },
  async run(cli, parsed) {
    const shell = detectShell(str(parsed.values['shell']));
    if (parsed.values['unset']) {
      if (parsed.positionals.length) throw new UsageError('Expected no machine name when the -u flag is present');
      const syn = shellSyntax(shell, 'env -u');
      const lines = VARS.map(syn.unset);
      if (parsed.values['context']) lines.push(syn.unset('DOCKER_CONTEXT'));
      if (parsed.values['no-proxy']) lines.push(syn.unset('NO_PROXY'));
      cli.out([...lines, syn.hint].join('\n'));
      return;
    }
    const [name] = machineNames(cli, parsed, { max: 1 });
    const host = await loadHost(cli.store, name!, cli.log);
    const target = parsed.values['swarm'] ? await (await import('../../swarm/cluster.js')).swarmManagerOf(host) : host;
    const info = await connectionInfo(target);
    const viaContext = parsed.values['context'] === true;
    const hintArgs = ['env', ...(shell !== detectShell('') ? [`--shell ${shell}`] : []), ...(parsed.values['swarm'] ? ['--swarm'] : []), ...(viaContext ? ['--context'] : []), info.name].join(' ');
    const syn = shellSyntax(shell, hintArgs);
    // A plain engine (none driver, tcp://...:2375) gets no TLS variables, and loses any left
    // from a machine before. Through a context, DOCKER_HOST and the TLS variables go: the
    // docker CLI would prefer them to DOCKER_CONTEXT.
    const lines = viaContext
      ? [
          syn.unset('DOCKER_TLS_VERIFY'),
          syn.unset('DOCKER_HOST'),
          syn.unset('DOCKER_CERT_PATH'),
          syn.set('DOCKER_CONTEXT', await ensureContext(target)),
          syn.set('DOCKER_MACHINE_NAME', info.name),
        ]
      : info.tls
      ? [syn.set('DOCKER_TLS_VERIFY', '1'), syn.set('DOCKER_HOST', info.url), syn.set('DOCKER_CERT_PATH', info.certDir), syn.set('DOCKER_MACHINE_NAME', info.name)]
      : [syn.unset('DOCKER_TLS_VERIFY'), syn.set('DOCKER_HOST', info.url), syn.unset('DOCKER_CERT_PATH'), syn.set('DOCKER_MACHINE_NAME', info.name)];
    if (parsed.values['no-proxy']) {
      const current = process.env.NO_PROXY ?? process.env.no_proxy ?? '';
      const entries = current.split(',').filter(Boolean);
      if (!entries.includes(info.ip)) entries.push(info.ip);
      lines.push(syn.set('NO_PROXY', entries.join(',')));
    }
    cli.out([...lines, syn.hint].join('\n'));
    // Over SSH the docker CLI's ssh needs the machine's entry; without it, say so where eval does not swallow it.
    if (info.url.startsWith('ssh:')) {
      const inc = await import('../../host/ssh-config.js');
      if (inc.sshIncludeState(cli.store) !== 'included') cli.err(inc.includeAdvice(cli.store, info.name, progName()));
    }
  },
};
export default env;
