import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { SshTarget } from './session.js';
import { hostAlias } from './known-hosts.js';

export function findSystemSsh(name = 'ssh'): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Docker Machine's external-client options, plus host-key checking against the machine's
 * pinned key: the alias makes the check independent of the address.
 */
export function commonOptions(target: SshTarget, opts: { machine: string; knownHostsPath?: string }): string[] {
  const args = [
    '-F', '/dev/null',
    '-o', 'ConnectionAttempts=3',
    '-o', 'ConnectTimeout=10',
    '-o', 'ControlMaster=no',
    '-o', 'ControlPath=none',
    '-o', 'LogLevel=quiet',
    '-o', 'PasswordAuthentication=no',
    '-o', 'ServerAliveInterval=60',
  ];
  if (opts.knownHostsPath) {
    args.push(
      '-o', `HostKeyAlias=${hostAlias(opts.machine)}`,
      '-o', `UserKnownHostsFile=${opts.knownHostsPath}`,
      '-o', `StrictHostKeyChecking=${existsSync(opts.knownHostsPath) ? 'yes' : 'accept-new'}`,
    );
  } else {
    args.push('-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null');
  }
  if (target.privateKeyPath) args.push('-o', 'IdentitiesOnly=yes', '-i', target.privateKeyPath);
  return args;
}

export function buildSshArgs(
  target: SshTarget,
  opts: { machine: string; knownHostsPath?: string; extraArgs?: string[]; command?: string[] },
): string[] {
  return [
    ...commonOptions(target, opts),
    '-p', String(target.port),
    ...(opts.extraArgs ?? []),
    `${target.user}@${target.host}`,
    ...(opts.command ?? []),
  ];
}
