
/** True when something accepts a TCP connection at host:port within timeoutMs. */
export async function tcpReachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  // Loaded here, not at the top: `env` loads this driver but never dials.
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
