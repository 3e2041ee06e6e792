import { progName } from '../../errors.js';
import type { Command } from '../context.js';
import { forEachHost } from './common.js';
import type { Host } from '../../host/host.js';
import { waitForState } from '../../host/state.js';
import type { DriverLogger } from '../../drivers/driver.js';

type Action = 'start' | 'stop' | 'restart' | 'kill';

const words: Record<Action, { ing: string; ed: string; description: string; after?: string }> = {
  start: { ing: 'Starting', ed: 'started', description: 'Start a machine', after: 'Started' },
  stop: { ing: 'Stopping', ed: 'stopped', description: 'Gracefully Stop a machine' },
  restart: { ing: 'Restarting', ed: 'restarted', description: 'Restart a machine', after: 'Restarted' },
  kill: { ing: 'Killing', ed: 'killed', description: 'Kill (abruptly force stop) a machine' },
};

async function act(host: Host, action: Action, log: DriverLogger): Promise<void> {
  const d = host.driver;
  if (action === 'start') {
    if ((await d.getState()) !== 'Running') {
      await d.start();
      await waitForState(d, 'Running', 5 * 60_000);
    }
  } else if (action === 'stop') {
    await d.stop();
    await waitForState(d, 'Stopped', 5 * 60_000);
  } else if (action === 'kill') {
    await d.kill();
    await waitForState(d, 'Stopped', 60_000);
  } else {
    await d.restart();
    await waitForState(d, 'Running', 5 * 60_000);
  }
  // Drivers learn new addresses on start; keep the record current.
  await host.store.withLock(host.name, async () => {
    const fresh = await host.store.load(host.name);
    await host.store.save({ ...fresh, Driver: d.config() });
  });
  if (action === 'start' || action === 'restart') {
    const { refreshCertsIfMoved } = await import('../../host/provision.js');
    await refreshCertsIfMoved(host, log);
  }
}

function lifecycle(action: Action): Command {
  const w = words[action];
  return {
    name: action,
    usage: '[arg...]',
    description: w.description,
    options: {},
    async run(cli, parsed) {
      const code = await forEachHost(cli, parsed, async (host) => {
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
