import { request } from 'node:http';
import { DriverError } from '../../errors.js';

export class EngineApiError extends DriverError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

// Docker 20.10 (Debian 12's docker.io) speaks 1.41; later engines accept it too.
const API = '/v1.41';

/**
 * The Docker Engine API over a unix socket or plain tcp://, just the calls the driver makes.
 * Every call is logged for --debug.
 */
export class EngineApi {
  private readonly socketPath?: string;
  private readonly host?: string;
  private readonly port?: number;

  constructor(
    readonly url: string,
    private readonly debug: (line: string) => void = () => undefined,
  ) {
    if (url.startsWith('unix://')) this.socketPath = url.slice('unix://'.length);
    else if (url.startsWith('tcp://') || url.startsWith('http://')) {
      const u = new URL(url.replace(/^tcp:/, 'http:'));
      this.host = u.hostname;
      this.port = Number(u.port || 2375);
    } else {
      throw new DriverError(`Unsupported --docker-host "${url}": use unix:///path/to/docker.sock or tcp://HOST:PORT`);
    }
  }

  call<T = unknown>(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<{ status: number; data: T }> {
    const started = Date.now();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          method,
          path: API + path,
          ...(this.socketPath ? { socketPath: this.socketPath } : { host: this.host, port: this.port }),
          headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {},
          timeout: 60_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            this.debug(`docker-api: ${method} ${path} -> ${status} (${Date.now() - started} ms)`);
            let data: unknown = text;
            try {
              data = text ? JSON.parse(text) : undefined;
            } catch {
              // plain-text answers (ping) stay text
            }
            if (status >= 400 && !okStatuses.includes(status)) {
              const msg = (data as { message?: string })?.message ?? text.trim();
              return reject(new EngineApiError(`Docker engine at ${this.url}: ${msg || `HTTP ${status}`}`, status));
            }
            resolve({ status, data: data as T });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        this.debug(`docker-api: ${method} ${path} -> ${err.code ?? err.message}`);
        reject(
          new DriverError(
            `Cannot reach the Docker engine at ${this.url}: ${err.message} (is dockerd running? pass --docker-host to use another engine)`,
          ),
        );
      });
      req.end(payload);
    });
  }

  async ping(): Promise<void> {
    await this.call('GET', '/_ping');
  }

  async imageExists(name: string): Promise<boolean> {
    const r = await this.call('GET', `/images/${encodeURIComponent(name)}/json`, undefined, [404]);
    return r.status === 200;
  }

  async containerInspect(idOrName: string): Promise<ContainerInfo | undefined> {
    const r = await this.call<ContainerInfo>('GET', `/containers/${encodeURIComponent(idOrName)}/json`, undefined, [404]);
    return r.status === 404 ? undefined : r.data;
  }

  async networkInspect(name: string): Promise<{ Id: string } | undefined> {
    const r = await this.call<{ Id: string }>('GET', `/networks/${encodeURIComponent(name)}`, undefined, [404]);
    return r.status === 404 ? undefined : r.data;
  }
}

export interface ContainerInfo {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Pid: number };
  NetworkSettings: {
    Networks: Record<string, { IPAddress: string }>;
    Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null>;
  };
}
