// Local TCP ports forwarded to ports of the machine through its SSH connection (what
// `ssh -L` does), with ssh2's direct-tcpip channels.
import { createServer, type Server, type Socket } from 'node:net';
import { MachineError, UsageError } from '../errors.js';
import type { SshSession } from './session.js';

export interface Forward {
  /** On 127.0.0.1 here. */
  local: number;
  /** On the machine's loopback, where a published container port also answers. */
  remote: number;
}

function port(text: string, spec: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new UsageError(`Invalid port forward "${spec}": ports are numbers from 1 to 65535, written [LOCAL:]REMOTE (e.g. 8080:80)`);
  return n;
}

/** `[LOCAL:]REMOTE` each; the same local port twice is refused before anything is bound. */
export function parseForwards(specs: string[]): Forward[] {
  const out = specs.map((spec) => {
    const parts = spec.split(':');
    if (parts.length > 2) throw new UsageError(`Invalid port forward "${spec}": write [LOCAL:]REMOTE (e.g. 8080:80)`);
    const remote = port(parts.at(-1)!, spec);
    return { local: parts.length === 2 ? port(parts[0]!, spec) : remote, remote };
  });
  const seen = new Set<number>();
  for (const f of out) {
    if (seen.has(f.local)) throw new UsageError(`Local port ${f.local} is given twice`);
    seen.add(f.local);
  }
  return out;
}

/** Binds every local port, or none: a port in use is one line naming it, and what was bound is let go. */
export async function bindForwards(forwards: Forward[]): Promise<Server[]> {
  const servers: Server[] = [];
  try {
    for (const f of forwards) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(f.local, '127.0.0.1', () => (server.off('error', reject), resolve()));
      }).catch((err: NodeJS.ErrnoException) => {
        throw new MachineError(
          err.code === 'EADDRINUSE'
            ? `Local port ${f.local} is in use: pick another with LOCAL:REMOTE (e.g. ${f.local + 1}:${f.remote})`
            : `Cannot listen on 127.0.0.1:${f.local}: ${err.message}`,
        );
      });
      servers.push(server);
    }
    return servers;
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
}

/** Each connection to a bound port becomes a channel to the machine's port; errors end that connection only. */
export function serveForwards(servers: Server[], forwards: Forward[], session: SshSession, debug: (line: string) => void): void {
  servers.forEach((server, i) => {
    const f = forwards[i]!;
    server.on('connection', (socket: Socket) => {
      socket.pause();
      session.forwardOut('127.0.0.1', f.remote).then(
        (channel) => {
          socket.pipe(channel).pipe(socket);
          socket.resume();
          const end = () => (socket.destroy(), channel.destroy());
          socket.on('error', end);
          channel.on('error', end);
          socket.on('close', () => channel.destroy());
          channel.on('close', () => socket.destroy());
        },
        (err: Error) => {
          debug(`forward ${f.local} -> ${f.remote}: ${err.message}`);
          socket.destroy();
        },
      );
    });
  });
}
