import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { MachineError, UsageError, progName } from '../../errors.js';
import type { Command } from '../context.js';
import { loadHost } from '../../host/host.js';

// Set in the environment of the background forwarder that -d starts: it reports back over IPC.
const BACKGROUND_ENV = 'MACHINE_PORT_FORWARD_BACKGROUND';

const portForward: Command = {
  name: 'port-forward',
  usage: '[OPTIONS] NAME [LOCAL:]REMOTE...',
  description: "Forward local ports to the machine's ports through SSH until interrupted",
  options: {
    detach: { type: 'boolean', short: 'd', description: "Keep forwarding in the background (pid file in the machine's folder)" },
    stop: { type: 'boolean', description: 'Stop the background forwarding of the machine' },
  },
  async run(cli, parsed) {
    const [name, ...specs] = parsed.positionals;
    if (!name) throw new UsageError(`Error: No machine name specified (usage: ${progName()} port-forward [-d] NAME [LOCAL:]REMOTE...)`);
    const pf = await import('../../host/port-forward.js');
    if (parsed.values['stop']) {
      if (specs.length) throw new UsageError('--stop takes only the machine name');
      const host = await loadHost(cli.store, name, cli.log);
      cli.out(`Stopped forwarding ${await pf.stopForward(host)}`);
      return;
    }
    if (!specs.length) throw new UsageError(`Error: No port to forward (usage: ${progName()} port-forward NAME [LOCAL:]REMOTE..., e.g. 8080:80)`);
    const forwards = pf.parseForwards(specs);
    const host = await loadHost(cli.store, name, cli.log);
    const what = pf.describeForwards(name, forwards);
    const inBackground = process.env[BACKGROUND_ENV] === '1';

    if (parsed.values['detach'] && !inBackground) {
      const running = pf.runningForward(host);
      if (running) {
        throw new MachineError(`"${name}" already forwards ${running.forwards} in the background (pid ${running.pid}): stop it with "${progName()} port-forward --stop ${name}"`);
      }
      const log = openSync(pf.forwardLog(host), 'a', 0o600);
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'port-forward', name, ...specs], {
        detached: true,
        stdio: ['ignore', log, log, 'ipc'],
        env: { ...process.env, [BACKGROUND_ENV]: '1', MACHINE_STORAGE_PATH: cli.store.root, ...(cli.globals.debug ? { MACHINE_DEBUG: '1' } : {}) },
      });
      closeSync(log);
      // The forwarder says when its ports are bound and connected, or why it could not.
      const outcome = await new Promise<{ ready?: true; error?: string }>((resolve) => {
        child.once('message', (m) => resolve(m as { ready?: true; error?: string }));
        child.once('exit', (code) => resolve({ error: `The background forwarder exited (code ${code}); see ${pf.forwardLog(host)}` }));
      });
      if (outcome.error) throw new MachineError(outcome.error);
      child.disconnect();
      child.unref();
      cli.out(`Forwarding ${what} in the background (pid ${child.pid}); stop it with "${progName()} port-forward --stop ${name}"`);
      return;
    }

    try {
      await pf.forwardPorts(host, forwards, {
        log: cli.log,
        signal: cli.signal,
        onReady: async () => {
          if (inBackground) {
            await pf.recordForward(host, forwards);
            process.send?.({ ready: true });
            process.disconnect?.();
          } else {
            cli.out(`Forwarding ${what} (Ctrl-C to stop)`);
          }
        },
      });
    } catch (err) {
      if (inBackground && process.connected) process.send?.({ error: (err as Error).message });
      throw err;
    } finally {
      if (inBackground) await pf.clearForward(host);
    }
  },
};
export default portForward;
