import { connect } from 'node:net';
import { DriverError } from '../../errors.js';

/** A QMP conversation: capabilities negotiated, then one command at a time. */
export async function qmp<T = unknown>(socketPath: string, command: string, args?: Record<string, unknown>, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    let stage = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new DriverError(`QMP ${command}: no answer within ${timeoutMs} ms from ${socketPath}`));
    }, timeoutMs);
    const done = (err: Error | null, value?: T) => {
      clearTimeout(timer);
      sock.end();
      if (err) reject(err);
      else resolve(value as T);
    };
    sock.on('error', (err) => done(new DriverError(`Cannot talk to the VM's QMP socket ${socketPath}: ${err.message}`)));
    sock.on('close', () => {
      // `quit` closes the socket instead of answering.
      if (stage === 2 && command === 'quit') done(null);
    });
    sock.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: T; error?: { desc: string }; event?: string };
        if (msg.event) continue;
        if (stage === 0 && msg.QMP) {
          stage = 1;
          sock.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if (stage === 1) {
          if (msg.error) return done(new DriverError(`QMP: ${msg.error.desc}`));
          stage = 2;
          sock.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) }) + '\n');
        } else if (stage === 2) {
          if (msg.error) return done(new DriverError(`QMP ${command}: ${msg.error.desc}`));
          return done(null, msg.return);
        }
      }
    });
  });
}
