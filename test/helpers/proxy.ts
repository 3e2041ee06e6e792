import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';

// A real HTTP proxy for the tests (absolute-URI requests and CONNECT tunnels) that logs every
// request. It never sends traffic off this machine: it forwards only to loopback and to the
// addresses the test allows (its own hosts), and answers for the made-up names it is given
// as the origin itself; everything else gets 403.
export interface TestProxy {
  url: string;
  port: number;
  /** "GET http://name/path", "POST http://127.0.0.1:1234/", "CONNECT 127.0.0.1:5678", in order. */
  log: string[];
  close(): Promise<void>;
}

export async function startTestProxy(opts: {
  host?: string;
  /** Made-up origins the proxy serves itself: name -> path -> body. */
  origins?: Record<string, Record<string, string | Buffer>>;
  allow?: string[];
}): Promise<TestProxy> {
  const log: string[] = [];
  const allowed = (host: string) => host === '127.0.0.1' || host === 'localhost' || (opts.allow ?? []).includes(host);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    log.push(`${req.method} ${req.url}`);
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute URI expected');
      return;
    }
    const origin = opts.origins?.[target.hostname];
    if (origin) {
      const body = origin[target.pathname];
      if (body === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    if (!allowed(target.hostname)) {
      res.writeHead(403).end('not forwarded by the test proxy');
      return;
    }
    const up = httpRequest({ host: target.hostname, port: target.port || 80, path: target.pathname + target.search, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  // Tunnels leave the server's bookkeeping: close() must end them itself.
  const tunnels = new Set<import('node:net').Socket>();
  server.on('connect', (req, socket) => {
    log.push(`CONNECT ${req.url}`);
    tunnels.add(socket as import('node:net').Socket);
    socket.on('close', () => tunnels.delete(socket as import('node:net').Socket));
    const [host, port] = (req.url ?? '').split(':');
    if (!host || !allowed(host)) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const up = connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.pipe(socket).pipe(up);
    });
    tunnels.add(up);
    up.on('close', () => tunnels.delete(up));
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, opts.host ?? '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    log,
    close: () => new Promise((r) => (server.close(() => r()), server.closeAllConnections(), tunnels.forEach((t) => t.destroy()))),
  };
}
