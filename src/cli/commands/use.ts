import { UsageError, progName } from '../../errors.js';
import type { Command } from '../context.js';
import { oneHost } from './common.js';
import * as ctx from '../../host/context.js';

const use: Command = {
  name: 'use',
  usage: '[OPTIONS] [arg...]',
  description: "Point the docker CLI at a machine through a docker context (-u: back to docker's default)",
  options: {
    unset: { type: 'boolean', short: 'u', description: 'Go back to the default docker context' },
  },
  async run(cli, parsed) {
    let name = 'default';
    if (parsed.values['unset']) {
      if (parsed.positionals.length) throw new UsageError('Expected no machine name when the -u flag is present');
      await ctx.useDefaultContext(cli.store);
    } else {
      const host = await oneHost(cli, parsed);
      name = await ctx.useMachineContext(host);
    }
    // As `docker context use` says it: the name for scripts on stdout, the sentence on stderr.
    cli.out(name);
    cli.err(`Current context is now "${name}"`);
    // The docker CLI prefers these to the current context: say so, or the user wonders why.
    for (const v of ['DOCKER_HOST', 'DOCKER_CONTEXT'] as const) {
      if (process.env[v] && !(v === 'DOCKER_CONTEXT' && process.env[v] === name)) {
        cli.err(`Warning: ${v} is set in this shell and overrides the current context; unset it (${v === 'DOCKER_HOST' ? `eval "$(${progName()} env -u)"` : `unset ${v}`})`);
      }
    }
  },
};
export default use;
