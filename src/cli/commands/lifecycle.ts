import { progName } from '../../errors.js';
import type { Command } from '../context.js';
import { forEachHostParallel, progressOption } from './common.js';
import type { Host } from '../../host/host.js';
import type { Logger } from '../../log.js';

type Action = 'start' | 'stop' | 'restart' | 'kill';

const words: Record<Action, { ing: string; ed: string; description: string; after?: string }> = {
  start: { ing: 'Starting', ed: 'started', description: 'Start a machine', after: 'Started' },
  stop: { ing: 'Stopping', ed: 'stopped', description: 'Gracefully Stop a machine' },
  restart: { ing: 'Restarting', ed: 'restarted', description: 'Restart a machine', after: 'Restarted' },
  kill: { ing: 'Killing', ed: 'killed', description: 'Kill (abruptly force stop) a machine' },
};

async function act(host: Host, action: Action, log: Logger): Promise<void> {
  const l = await import('../../host/lifecycle.js');
  if (action === 'start') await l.startHost(host, log);
  else if (action === 'stop') await l.stopHost(host);
  else if (action === 'kill') await l.killHost(host);
  else await l.restartHost(host, log);
}

function lifecycle(action: Action): Command {
  const w = words[action];
  return {
    name: action,
    usage: '[arg...]',
    description: w.description,
    options: { ...progressOption },
    async run(cli, parsed) {
      // Machines go in parallel, as with Docker Machine; each line is whole.
      const code = await forEachHostParallel(cli, parsed, async (host) => {
        cli.out(`${w.ing} "${host.name}"...`);
        await act(host, action, cli.log);
        cli.out(`Machine "${host.name}" was ${w.ed}.`);
      });
      if (w.after && code === 0) {
        cli.out(`${w.after} machines may have new IP addresses. You may need to re-run the \`${progName()} env\` command.`);
      }
      return code;
    },
  };
}

export const start = lifecycle('start');
export const stop = lifecycle('stop');
export const restart = lifecycle('restart');
export const kill = lifecycle('kill');
