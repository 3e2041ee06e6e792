import { readFileSync } from 'node:fs';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { DriverError } from '../../errors.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';

/** The engine answered, but not with success; `engineMessage` is its own words. */
export class EngineApiError extends DriverError {
  constructor(
    readonly status: number,
    readonly engineMessage: string,
    readonly method: string,
    readonly path: string,
    engineUrl: string,
  ) {
    super(`Docker engine at ${engineUrl}: ${engineMessage || `HTTP ${status}`}`);
  }
}

/** No answer at all: the socket is missing, refused, forbidden, or the TLS setup is wrong. */
export class EngineUnreachableError extends DriverError {
  constructor(
    readonly engineUrl: string,
    readonly code: string,
    detail: string,
    hint: string,
  ) {
    super(`Cannot reach the Docker engine at ${engineUrl}: ${detail} (${hint})`);
  }
}

export class DockerHostError extends DriverError {}

export type Endpoint =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; tls: boolean };

/**
 * The forms the docker CLI's -H takes that make sense here. `tcp://` is TLS when a cert
 * directory is given, as DOCKER_TLS_VERIFY + DOCKER_CERT_PATH make it for the CLI.
 */
export function parseDockerHost(url: string, certPath = ''): Endpoint {
  const bad = (why: string) =>
    new DockerHostError(`Unsupported --docker-host "${url}": ${why}; use unix:///path/to/docker.sock or tcp://HOST:PORT`);
  if (url.startsWith('unix://')) {
    const socketPath = url.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw bad('the socket path must be absolute');
    if (certPath) throw bad('--docker-cert-path is for tcp:// engines only');
    return { kind: 'unix', socketPath };
  }
  const m = /^(tcp|http|https):\/\/(.+)$/.exec(url);
  if (!m) throw bad('unknown scheme');
  let u: URL;
  try {
    u = new URL(`http://${m[2]}`);
  } catch {
    throw bad('not a host:port');
  }
  if (u.pathname !== '/' || u.search || !u.hostname) throw bad('not a host:port');
  const tls = m[1] === 'https' || certPath !== '';
  return { kind: 'tcp', host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (tls ? DEFAULT_ENGINE_PORT : 2375)), tls };
}

// Docker 20.10 (Debian 12's docker.io) speaks 1.41 at most, and later engines still accept
// it. The price: query parameters added after 1.41 (stop's `signal`) are ignored, so what
// they would do is set on the container itself.
const API = '/v1.41';
const DEFAULT_TIMEOUT_MS = 60_000;

export interface CallOptions {
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is, e.g. a tar archive. */
  raw?: { body: Buffer; contentType: string };
  /** Statuses that are answers, not failures (404 for "is it there?"). */
  ok?: number[];
  timeoutMs?: number;
}

export interface EngineApiOptions {
  /** Every call, for --debug. */
  debug?: (line: string) => void;
  /** Directory holding ca.pem, cert.pem and key.pem, for a TLS engine. */
  certPath?: string;
  /** Appended to "cannot reach" errors: what the user can do about it where they are. */
  unreachableHint?: string;
}

export interface ImageInfo {
  Id: string;
  RepoTags?: string[];
  Config?: { Labels?: Record<string, string> | null } | null;
}

export interface NetworkInfo {
  Id: string;
  Name: string;
  Driver: string;
  IPAM: { Config?: Array<{ Subnet?: string; IPRange?: string; Gateway?: string }> | null };
  Labels?: Record<string, string> | null;
  Containers?: Record<string, { IPv4Address?: string }> | null;
}

export interface VolumeInfo {
  Name: string;
  Labels?: Record<string, string> | null;
}

export interface EndpointInfo {
  IPAddress: string;
  IPAMConfig?: { IPv4Address?: string } | null;
}

export interface ContainerInfo {
  Id: string;
  Name: string;
  Config: { Labels?: Record<string, string> | null };
  State: { Status: string; Running: boolean; Pid: number };
  NetworkSettings: {
    Networks: Record<string, EndpointInfo>;
    Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null>;
  };
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Labels?: Record<string, string> | null;
  NetworkSettings?: { Networks?: Record<string, EndpointInfo> | null };
}

export interface EngineInfo {
  NCPU: number;
  MemTotal: number;
}

/** The Docker Engine API, just the calls the docker driver makes. */
export class EngineApi {
  private readonly endpoint: Endpoint;
  private tlsFiles?: { ca: Buffer; cert: Buffer; key: Buffer };

  constructor(
    readonly url: string,
    private readonly opts: EngineApiOptions = {},
  ) {
    this.endpoint = parseDockerHost(url, opts.certPath ?? '');
  }

  /** The one way to the engine: every call is timed and logged, every failure typed. */
  async call<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<{ status: number; data: T }> {
    const started = Date.now();
    const debug = this.opts.debug ?? (() => undefined);
    const body = opts.raw?.body ?? (opts.json === undefined ? undefined : Buffer.from(JSON.stringify(opts.json)));
    const headers: Record<string, string | number> = {};
    if (body) {
      headers['Content-Type'] = opts.raw?.contentType ?? 'application/json';
      headers['Content-Length'] = body.length;
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // One deadline for the whole call (Node's `timeout` is an idle timer, armed twice).
    const base: RequestOptions & { servername?: string } = { method, path: API + path, headers, signal: AbortSignal.timeout(timeoutMs), agent: false };
    let send: typeof httpRequest = httpRequest;
    if (this.endpoint.kind === 'unix') {
      base.socketPath = this.endpoint.socketPath;
      // No TLS, so no server name: otherwise Node's agent works one out from the Host header
      // ("localhost") and checks it is no IP address with net.isIP, whose IPv6 pattern costs
      // about 10 ms of CPU to compile at a process's first call.
      base.servername = '';
    } else {
      base.host = this.endpoint.host;
      base.port = this.endpoint.port;
      if (this.endpoint.tls) {
        Object.assign(base, this.readTls());
        send = httpsRequest;
      }
    }
    return new Promise((resolve, reject) => {
      const req = send(base, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(this.unreachable(err as NodeJS.ErrnoException)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          debug(`docker-api: ${method} ${path} -> ${status} (${Date.now() - started} ms)`);
          const text = Buffer.concat(chunks).toString('utf8');
          let data: unknown = text;
          try {
            data = text ? JSON.parse(text) : undefined;
          } catch {
            // plain-text answers (ping, some proxies' errors) stay text
          }
          if (status >= 400 && !(opts.ok ?? []).includes(status)) {
            const msg = typeof data === 'object' && data && 'message' in data ? String(data.message) : text.trim();
            if (status === 400 && /HTTP request to an HTTPS server/i.test(msg)) {
              return reject(new EngineUnreachableError(this.url, 'EPROTO', 'the engine speaks TLS', 'pass --docker-cert-path DIR holding ca.pem, cert.pem and key.pem'));
            }
            return reject(new EngineApiError(status, oneLine(msg), method, path, this.url));
          }
          resolve({ status, data: data as T });
        });
      });
      req.on('error', (raw: NodeJS.ErrnoException) => {
        const err = raw.name === 'AbortError' || raw.name === 'TimeoutError' ? Object.assign(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }) : raw;
        debug(`docker-api: ${method} ${path} -> ${err.code ?? err.message} (${Date.now() - started} ms)`);
        reject(this.unreachable(err));
      });
      req.end(body);
    });
  }

  private readTls(): { ca: Buffer; cert: Buffer; key: Buffer } {
    const dir = this.opts.certPath ?? '';
    if (!this.tlsFiles) {
      try {
        this.tlsFiles = {
          ca: readFileSync(join(dir, 'ca.pem')),
          cert: readFileSync(join(dir, 'cert.pem')),
          key: readFileSync(join(dir, 'key.pem')),
        };
      } catch (err) {
        throw new DockerHostError(
          `Cannot read the TLS files for ${this.url} in "${dir}": ${(err as Error).message} (--docker-cert-path needs ca.pem, cert.pem and key.pem)`,
        );
      }
    }
    return this.tlsFiles;
  }

  private unreachable(err: NodeJS.ErrnoException): EngineUnreachableError {
    const code = err.code ?? '';
    const where = this.opts.unreachableHint ?? 'pass --docker-host to use another engine';
    const hint =
      code === 'EACCES'
        ? `no permission on the socket: run as root or as a member of the docker group, or ${where}`
        : code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /certificate|SSL/i.test(err.message)
          ? `check the certificates in --docker-cert-path, or ${where}`
          : `is dockerd running? ${where}`;
    return new EngineUnreachableError(this.url, code, oneLine(err.message), hint);
  }

  async ping(): Promise<void> {
    await this.call('GET', '/_ping', { timeoutMs: 10_000 });
  }

  async info(): Promise<EngineInfo> {
    return (await this.call<EngineInfo>('GET', '/info')).data;
  }

  async imageInspect(name: string): Promise<ImageInfo | undefined> {
    const r = await this.call<ImageInfo>('GET', `/images/${encodeURIComponent(name)}/json`, { ok: [404] });
    return r.status === 404 ? undefined : r.data;
  }

  async networkInspect(name: string): Promise<NetworkInfo | undefined> {
    const r = await this.call<NetworkInfo>('GET', `/networks/${encodeURIComponent(name)}`, { ok: [404] });
    return r.status === 404 ? undefined : r.data;
  }

  async networkCreate(body: {
    Name: string;
    Labels?: Record<string, string>;
    IPAM?: { Config: Array<{ Subnet: string; IPRange?: string; Gateway?: string }> };
  }): Promise<string> {
    const r = await this.call<{ Id: string }>('POST', '/networks/create', { json: { Driver: 'bridge', CheckDuplicate: true, ...body } });
    return r.data.Id;
  }

  /** False when it was already gone. */
  async networkRemove(id: string): Promise<boolean> {
    return (await this.call('DELETE', `/networks/${encodeURIComponent(id)}`, { ok: [404] })).status !== 404;
  }

  async volumeInspect(name: string): Promise<VolumeInfo | undefined> {
    const r = await this.call<VolumeInfo>('GET', `/volumes/${encodeURIComponent(name)}`, { ok: [404] });
    return r.status === 404 ? undefined : r.data;
  }

  async volumeCreate(name: string, labels: Record<string, string>): Promise<void> {
    await this.call('POST', '/volumes/create', { json: { Name: name, Labels: labels } });
  }

  /** False when it was already gone. */
  async volumeRemove(name: string): Promise<boolean> {
    return (await this.call('DELETE', `/volumes/${encodeURIComponent(name)}`, { ok: [404] })).status !== 404;
  }

  async containerList(filters: Record<string, string[]>): Promise<ContainerSummary[]> {
    const q = encodeURIComponent(JSON.stringify(filters));
    return (await this.call<ContainerSummary[]>('GET', `/containers/json?all=1&filters=${q}`)).data;
  }

  async containerCreate(name: string, body: Record<string, unknown>): Promise<string> {
    const r = await this.call<{ Id: string }>('POST', `/containers/create?name=${encodeURIComponent(name)}`, { json: body });
    return r.data.Id;
  }

  async containerInspect(idOrName: string): Promise<ContainerInfo | undefined> {
    const r = await this.call<ContainerInfo>('GET', `/containers/${encodeURIComponent(idOrName)}/json`, { ok: [404] });
    return r.status === 404 ? undefined : r.data;
  }

  /** 304 (already running) is success: start is idempotent. */
  async containerStart(id: string): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/start`, { ok: [304] });
  }

  /** Uses the container's StopSignal; SIGKILL after `timeoutS`. */
  async containerStop(id: string, timeoutS: number): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/stop?t=${timeoutS}`, { ok: [304], timeoutMs: (timeoutS + 30) * 1000 });
  }

  async containerRestart(id: string, timeoutS: number): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/restart?t=${timeoutS}`, { timeoutMs: (timeoutS + 30) * 1000 });
  }

  /** 409 (not running) is success: there is nothing left to kill. */
  async containerKill(id: string, signal = 'SIGKILL'): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/kill?signal=${encodeURIComponent(signal)}`, { ok: [409] });
  }

  /** False when it was already gone. */
  async containerRemove(id: string, opts: { force: boolean; volumes: boolean }): Promise<boolean> {
    const q = `force=${opts.force ? 1 : 0}&v=${opts.volumes ? 1 : 0}`;
    return (await this.call('DELETE', `/containers/${encodeURIComponent(id)}?${q}`, { ok: [404] })).status !== 404;
  }

  /** Unpacks a tar archive at `path` inside the container; works before it first starts. */
  async putArchive(id: string, path: string, tar: Buffer): Promise<void> {
    await this.call('PUT', `/containers/${encodeURIComponent(id)}/archive?path=${encodeURIComponent(path)}`, {
      raw: { body: tar, contentType: 'application/x-tar' },
    });
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
