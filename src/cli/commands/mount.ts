import { UsageError, progName } from '../../errors.js';
import type { Command } from '../context.js';
import { loadHost } from '../../host/host.js';

const mount: Command = {
  name: 'mount',
  usage: '[OPTIONS] NAME:[/remote/dir] /local/dir',
  description: 'Mount or unmount a directory from a machine with SSHFS.',
  options: {
    unmount: { type: 'boolean', short: 'u', description: 'Unmount instead of mount' },
  },
  async run(cli, parsed) {
    const [source, mountPoint, ...extra] = parsed.positionals;
    if (!source || !mountPoint || extra.length) {
      throw new UsageError(`Error: Expected a source and a mount point (usage: ${progName()} mount [-u] NAME:/remote/dir /local/dir)`);
    }
    const m = await import('../../host/mount.js');
    const { machine, path } = m.parseMountSource(source);
    const host = await loadHost(cli.store, machine, cli.log);
    if (parsed.values['unmount']) {
      await m.unmountFolder(mountPoint, cli.log);
      return;
    }
    await m.mountFolder(host, path, mountPoint, cli.log);
  },
};
export default mount;
