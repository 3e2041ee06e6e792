import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Command } from '../context.js';
import { oneHost } from './common.js';
import { MachineError } from '../../errors.js';
import { assertRunning } from '../../host/lifecycle.js';
import { checkPinnedHostKey, connectHost, systemSshCommand } from '../../host/ssh.js';

const ssh: Command = {
  name: 'ssh',
  usage: '[arg...]',
  description: 'Log into or run a command on a machine with SSH.',
  options: {},
  stopAtPositional: 1,
  async run(cli, parsed) {
    const host = await oneHost(cli, parsed);
    if (!host.driver.provisionable) throw new MachineError(`Machine "${host.name}" has no SSH access (driver ${host.driver.name})`);
    await assertRunning(host);
    const command = parsed.rest;
    const system = cli.globals.nativeSsh ? undefined : await systemSshCommand(host, command);
    if (system) {
      await checkPinnedHostKey(host, cli.log);
      cli.log.debug(`exec ${system.path} ${system.args.join(' ')}`);
      return new Promise<number>((resolve, reject) => {
        const child = spawn(system.path, system.args, { stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
      }).then((code) => {
        // ssh's 255 is its own failure (e.g. the pinned host key changed); say which file pins it.
        if (code === 255 && existsSync(system.knownHosts)) cli.log.debug(`ssh exited 255; host key pinned in ${system.knownHosts}`);
        return code;
      });
    }
    const session = await connectHost(host, cli.log);
    try {
      return await session.interactive(command.length ? command.join(' ') : undefined, {
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
      });
    } finally {
      session.close();
    }
  },
};
export default ssh;
