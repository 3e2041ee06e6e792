// How the docker CLI reaches a machine's engine. Policy:
// - "tls" (the default, Docker Machine's only way): dockerd listens on TCP with mutual TLS
//   and a server certificate that names the machine's addresses.
// - "ssh": dockerd listens on its unix socket only; the docker CLI dials
//   ssh://USER@HOST:PORT and runs `docker system dial-stdio` on the machine. No port is open
//   and no certificate is tied to an address; the host key pinned at create guards the way in
//   (see ssh-config.ts for how the docker CLI's ssh gets it).
// The choice is kept as EngineOptions.Transport in config.json, written only for "ssh", so the
// records of TLS machines stay as Docker Machine wrote them.
import { UsageError } from '../errors.js';
import type { EngineOptions } from '../store/schema.js';

export const TRANSPORTS = ['tls', 'ssh'] as const;
export type EngineTransport = (typeof TRANSPORTS)[number];

export function transportOf(engine: EngineOptions): EngineTransport {
  return engine.Transport === 'ssh' ? 'ssh' : 'tls';
}

/** --engine-transport's value, checked before anything is made. */
export function parseTransport(value: string): EngineTransport {
  if ((TRANSPORTS as readonly string[]).includes(value)) return value as EngineTransport;
  throw new UsageError(`--engine-transport takes "tls" or "ssh", not "${value}"`);
}

/** Sets the transport on a machine's engine options (absent for tls, as Docker Machine had it). */
export function withTransport(engine: EngineOptions, transport: EngineTransport): EngineOptions {
  const out: EngineOptions = { ...engine };
  if (transport === 'ssh') out.Transport = 'ssh';
  else delete out.Transport;
  return out;
}

/** The URL the docker CLI dials for an SSH-transport machine. */
export function sshEngineUrl(user: string, host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `ssh://${user}@${h}:${port}`;
}

/** What an SSH session offers; the check runs as the SSH user, as the docker CLI's dial-stdio will. */
interface Runner {
  exec(command: string, opts?: { timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** The engine's version asked the way the docker CLI reaches it over SSH; throws with dockerd's own words. */
export async function engineVersionOverSsh(session: Runner, timeoutMs = 10_000): Promise<string> {
  const r = await session.exec(`docker version --format '{{.Server.Version}}'`, { timeoutMs });
  const version = r.stdout.trim();
  if (r.code !== 0 || !version) throw new Error((r.stderr.trim() || r.stdout.trim()).split('\n').pop() || `docker version exited with ${r.code}`);
  return version;
}
