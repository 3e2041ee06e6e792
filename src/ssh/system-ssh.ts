import { existsSync } from 'node:fs';
import { findOnPath } from '../sys/which.js';
import { SshError } from '../errors.js';
import { hostAlias } from './known-hosts.js';
import type { SshTarget } from './session.js';

export interface SystemSshOptions {
  machine: string;
  /** The machine's pinned key file; without one, host keys are not checked (Docker Machine's way). */
  knownHostsPath?: string;
  /** Passed to ssh/scp before the destination. */
  extraArgs?: string[];
}

/** The OpenSSH client (or `scp`) on PATH, if any. */
export function findSystemSsh(name = 'ssh'): string | undefined {
  return findOnPath(name);
}

/**
 * Docker Machine's external-client options, plus host-key checking against the machine's pinned
 * key. The alias makes the check independent of the address (which DHCP may change); when
 * nothing is pinned yet, accept-new pins the key in the same file the native client reads.
 */
export function sshOptions(target: SshTarget, opts: SystemSshOptions): string[] {
  if (!target.host || target.host.startsWith('-')) throw new SshError(`Invalid SSH host "${target.host}"`);
  if (!target.user || target.user.startsWith('-')) throw new SshError(`Invalid SSH user "${target.user}"`);
  const args = [
    '-F', '/dev/null',
    '-o', 'ConnectionAttempts=3',
    '-o', 'ConnectTimeout=10',
    '-o', 'ControlMaster=no',
    '-o', 'ControlPath=none',
    // ERROR rather than Docker Machine's quiet: a refused host key must say why ssh gave up.
    '-o', 'LogLevel=ERROR',
    '-o', 'PasswordAuthentication=no',
    '-o', 'ServerAliveInterval=60',
  ];
  if (opts.knownHostsPath) {
    args.push(
      '-o', `HostKeyAlias=${hostAlias(opts.machine)}`,
      '-o', `UserKnownHostsFile=${opts.knownHostsPath}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', `StrictHostKeyChecking=${existsSync(opts.knownHostsPath) ? 'yes' : 'accept-new'}`,
      // Keep the file to the one plain line the native client reads and writes.
      '-o', 'HashKnownHosts=no',
      '-o', 'UpdateHostKeys=no',
      '-o', 'CheckHostIP=no',
    );
  } else {
    args.push('-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null');
  }
  if (target.privateKeyPath) args.push('-o', 'IdentitiesOnly=yes', '-i', target.privateKeyPath);
  return args;
}

/**
 * argv for `ssh` (without the program): options, then extraArgs, then user@host and the
 * command. Like Docker Machine, nothing stops ssh reading options after the destination.
 */
export function buildSshArgs(target: SshTarget, opts: SystemSshOptions & { command?: string[] }): string[] {
  return [
    ...sshOptions(target, opts),
    '-p', String(target.port),
    ...(opts.extraArgs ?? []),
    `${target.user}@${target.host}`,
    ...(opts.command ?? []),
  ];
}

/** `user@host:path` as scp wants it (an IPv6 address in brackets). */
export function scpRemote(target: SshTarget, path: string): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.user}@${host}:${path}`;
}

/**
 * argv for `scp` (without the program) copying between here and one machine: name its side of
 * sources/destination with scpRemote. `--` keeps a local path starting with '-' a path.
 */
export function buildScpArgs(
  target: SshTarget,
  opts: SystemSshOptions & { recursive?: boolean; sources: string[]; destination: string },
): string[] {
  return [
    ...sshOptions(target, opts),
    '-P', String(target.port),
    ...(opts.recursive ? ['-r'] : []),
    ...(opts.extraArgs ?? []),
    '--',
    ...opts.sources,
    opts.destination,
  ];
}
