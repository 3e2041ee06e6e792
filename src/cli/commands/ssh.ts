import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Command } from '../context.js';
import { oneHost } from './common.js';
import { HostNotRunningError, MachineError } from '../../errors.js';
import { knownHostsPath } from '../../host/host.js';
import { connectHost } from '../../host/ssh.js';

const ssh: Command = {
  name: 'ssh',
  usage: '[arg...]',
  description: 'Log into or run a command on a machine with SSH.',
  options: {},
  stopAtPositional: 1,
  async run(cli, parsed) {
    const host = await oneHost(cli, parsed);
    if (!host.driver.provisionable) throw new MachineError(`Machine "${host.name}" has no SSH access (driver ${host.driver.name})`);
    if ((await host.driver.getState()) !== 'Running') throw new HostNotRunningError(host.name);
    const command = parsed.rest;
    const ssh = await import('../../ssh/index.js');
    const system = cli.globals.nativeSsh ? undefined : ssh.findSystemSsh();
    if (system) {
      const target = {
        host: await host.driver.getSSHHostname(),
        port: await host.driver.getSSHPort(),
        user: host.driver.getSSHUsername(),
        privateKeyPath: host.driver.getSSHKeyPath() || undefined,
      };
      const kh = knownHostsPath(host);
      const args = ssh.buildSshArgs(target, {
        machine: host.name,
        knownHostsPath: kh,
        extraArgs: [],
        command,
      });
      cli.log.debug(`exec ${system} ${args.join(' ')}`);
      return new Promise<number>((resolve, reject) => {
        const child = spawn(system, args, { stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
      }).then((code) => {
        // ssh's 255 is its own failure (e.g. the pinned host key changed); say which file pins it.
        if (code === 255 && existsSync(kh)) cli.log.debug(`ssh exited 255; host key pinned in ${kh}`);
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
