import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Command, Cli } from '../context.js';
import { UsageError } from '../../errors.js';
import { loadHost } from '../../host/host.js';
import { connectHost } from '../../host/ssh.js';

interface Location {
  machine?: string;
  path: string;
}

/** `NAME:path` names a machine's file; anything else (incl. `./a:b`, `/x:y`) is local. */
export function parseLocation(arg: string): Location {
  const m = /^([a-zA-Z0-9][a-zA-Z0-9._-]*):(.*)$/.exec(arg);
  if (m && !arg.startsWith('/') && !arg.startsWith('.')) return { machine: m[1]!, path: m[2] || '.' };
  return { path: arg };
}

async function session(cli: Cli, machine: string) {
  const host = await loadHost(cli.store, machine, cli.log);
  return connectHost(host, cli.log);
}

const scp: Command = {
  name: 'scp',
  usage: '[OPTIONS] [arg...]',
  description: 'Copy files between machines',
  options: {
    recursive: { type: 'boolean', short: 'r', description: 'Copy files recursively (required to copy directories)' },
    delta: { type: 'boolean', short: 'd', description: 'Accepted for compatibility; copies whole files' },
    quiet: { type: 'boolean', short: 'q', description: 'Disables the progress meter as well as warning and diagnostic messages' },
  },
  async run(cli, parsed) {
    if (parsed.positionals.length !== 2) {
      throw new UsageError('Error: Improper number of arguments: use "scp [-r] [machine:]src [machine:]dest"');
    }
    const [src, dst] = parsed.positionals.map(parseLocation) as [Location, Location];
    const recursive = parsed.values['recursive'] === true;
    if (!src.machine && !dst.machine) throw new UsageError('Error: neither source nor destination is on a machine (use NAME:path)');
    if (src.machine && dst.machine) {
      // Machine to machine goes through here, like `scp -3`: each side keeps its own pinned key.
      const tmp = await mkdtemp(join(tmpdir(), 'machine-scp-'));
      try {
        const local = join(tmp, basename(src.path) || 'data');
        const a = await session(cli, src.machine);
        try {
          await a.download(src.path, local, { recursive });
        } finally {
          a.close();
        }
        const b = await session(cli, dst.machine);
        try {
          await b.upload(local, dst.path, { recursive });
        } finally {
          b.close();
        }
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      return;
    }
    const s = await session(cli, (src.machine ?? dst.machine)!);
    try {
      if (src.machine) await s.download(src.path, dst.path, { recursive });
      else await s.upload(src.path, dst.path, { recursive });
    } finally {
      s.close();
    }
  },
};
export default scp;
