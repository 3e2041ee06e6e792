import type { Command } from '../context.js';
import { oneHost } from './common.js';
import { MachineError } from '../../errors.js';
import { assertRunning } from '../../host/lifecycle.js';
import { acceptHostKey } from '../../host/ssh.js';

const acceptHostKeyCommand: Command = {
  name: 'accept-host-key',
  usage: 'NAME',
  description:
    "Trust the SSH host key a machine offers now, after it was really reinstalled. The key pinned at create is replaced only once the machine has also accepted machine's login.",
  options: {},
  async run(cli, parsed) {
    const host = await oneHost(cli, parsed);
    if (!host.driver.provisionable) throw new MachineError(`Machine "${host.name}" has no SSH access (driver ${host.driver.name})`);
    await assertRunning(host);
    const { before, after } = await acceptHostKey(host, cli.log);
    cli.out(before === after ? `The SSH host key of "${host.name}" is unchanged: ${after}` : `Trusted the new SSH host key of "${host.name}": ${after} (was ${before})`);
  },
};
export default acceptHostKeyCommand;
