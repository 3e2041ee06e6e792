import type { EngineOptions } from '../store/schema.js';

export const REMOTE_CERT_DIR = '/etc/docker';
export const REMOTE_CA = `${REMOTE_CERT_DIR}/ca.pem`;
export const REMOTE_CERT = `${REMOTE_CERT_DIR}/server.pem`;
export const REMOTE_KEY = `${REMOTE_CERT_DIR}/server-key.pem`;
export const DROPIN_PATH = '/etc/systemd/system/docker.service.d/10-machine.conf';

export interface DropInInput {
  dockerdPath: string;
  /** Debian's and docker-ce's units take their unix socket from docker.socket (`-H fd://`). */
  socketActivated: boolean;
  /** Arguments of the unit's own ExecStart that are not -H (e.g. --containerd=...). */
  keptArgs: string[];
  enginePort: number;
  driverName: string;
  engine: EngineOptions;
  /** The user's proxy for dockerd (pulls, pushes); --engine-env's own values win over it. */
  proxy?: { HTTP_PROXY: string; HTTPS_PROXY: string; NO_PROXY: string };
}

/** The proxy variables, both spellings as programs read either, that --engine-env does not set itself. */
export function proxyEnvironment(proxy: DropInInput['proxy'], engineEnv: string[] = []): string[] {
  if (!proxy) return [];
  const given = new Set(engineEnv.map((e) => e.slice(0, e.indexOf('=')).toUpperCase()));
  const out: string[] = [];
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'] as const) {
    if (!proxy[name] || given.has(name)) continue;
    out.push(`${name}=${proxy[name]}`, `${name.toLowerCase()}=${proxy[name]}`);
  }
  return out;
}

function systemdQuote(arg: string): string {
  return /^[A-Za-z0-9_\-./:=@,+%]+$/.test(arg) ? arg : `"${arg.replace(/(["\\])/g, '\\$1')}"`;
}

export function dockerdArgs(input: DropInInput): string[] {
  const e = input.engine;
  // Over the SSH transport the unix socket is the only way in: no TCP port, no TLS.
  const overSsh = e.Transport === 'ssh';
  const args = [
    '-H',
    input.socketActivated ? 'fd://' : 'unix:///var/run/docker.sock',
    ...(overSsh ? [] : ['-H', `tcp://0.0.0.0:${input.enginePort}`]),
    ...input.keptArgs,
  ];
  if (e.StorageDriver) args.push('--storage-driver', e.StorageDriver);
  if (e.GraphDir) args.push('--data-root', e.GraphDir);
  if (overSsh) {
    // Nothing: the socket is reached through sshd, which did the authentication.
  } else if (e.TlsVerify !== false) {
    args.push('--tlsverify', '--tlscacert', REMOTE_CA, '--tlscert', REMOTE_CERT, '--tlskey', REMOTE_KEY);
  } else {
    args.push('--tls', '--tlscert', REMOTE_CERT, '--tlskey', REMOTE_KEY);
  }
  for (const label of e.Labels) args.push('--label', label);
  args.push('--label', `provider=${input.driverName}`);
  for (const reg of e.InsecureRegistry) args.push('--insecure-registry', reg);
  for (const mirror of e.RegistryMirror) args.push('--registry-mirror', mirror);
  for (const dns of e.Dns) args.push('--dns', dns);
  if (e.Ipv6) args.push('--ipv6');
  if (e.SelinuxEnabled) args.push('--selinux-enabled');
  if (e.LogLevel) args.push(`--log-level=${e.LogLevel}`);
  // --engine-opt takes Docker Machine's form: "key=value" or a bare "key" for a boolean.
  for (const opt of e.ArbitraryFlags) args.push(`--${opt.replace(/^--/, '')}`);
  return args;
}

/** The systemd drop-in that makes dockerd listen on TLS; ExecStart= clears the unit's own. */
export function renderDropIn(input: DropInInput): string {
  const lines = [
    '# Written by machine; "machine provision" rewrites it.',
    '[Service]',
    'ExecStart=',
    `ExecStart=${[input.dockerdPath, ...dockerdArgs(input)].map(systemdQuote).join(' ')}`,
  ];
  for (const env of [...proxyEnvironment(input.proxy, input.engine.Env), ...input.engine.Env]) lines.push(`Environment=${systemdQuote(env)}`);
  return lines.join('\n') + '\n';
}

/**
 * From the unit's own ExecStart, keeps what is not ours to set: hosts are replaced, and
 * so are the flags we write ourselves, so a re-run does not stack them.
 */
export function keepUnitArgs(execStart: string[]): string[] {
  const kept: string[] = [];
  const withValue = new Set(['-H', '--host']);
  for (let i = 0; i < execStart.length; i++) {
    const a = execStart[i]!;
    if (withValue.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-H') || a.startsWith('--host=') || a.startsWith('$')) continue;
    kept.push(a);
  }
  return kept;
}
