import { answerTap } from '../answer-tap.js';
// Loaded on the first dial, not at the top: `env` loads this driver but never dials. And
// loaded once: each `await import()` of a built-in makes the bundle's interop copy its ~40
// exports, and ls of 500 machines made 500 copies (15 ms of CPU, and their garbage).
let net: Promise<typeof import('node:net')> | undefined;
const loadNet = () => (net ??= import('node:net'));

/** True when something accepts a TCP connection at host:port within timeoutMs. */
export async function tcpReachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const { connect } = await loadNet();
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      // The answer cache probes again before it gives an answer that depended on this.
      answerTap()?.probed(host, port, timeoutMs, ok);
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A port nothing listens on at 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const { createServer } = await loadNet();
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function portFree(port: number): Promise<boolean> {
  const { createServer } = await loadNet();
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
