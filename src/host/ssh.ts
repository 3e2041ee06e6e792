import type { SshSession } from '../ssh/index.js';
import { knownHostsPath, type Host } from './host.js';
import type { Logger } from '../log.js';

/** Opens the machine's SSH session, pinning the host key on first use and checking it after. */
export async function connectHost(
  host: Host,
  log: Logger,
  opts: { waitMs?: number; pin?: boolean; signal?: AbortSignal } = {},
): Promise<SshSession> {
  const { SshSession: Session, waitForSsh } = await import('../ssh/index.js');
  const target = {
    host: await host.driver.getSSHHostname(),
    port: await host.driver.getSSHPort(),
    user: host.driver.getSSHUsername(),
    privateKeyPath: host.driver.getSSHKeyPath() || undefined,
  };
  const hostKey = {
    machine: host.name,
    knownHostsPath: knownHostsPath(host),
    mode: opts.pin ? ('pin-on-first-use' as const) : ('verify' as const),
  };
  const debug = (line: string) => log.debug(line);
  if (opts.waitMs) {
    return waitForSsh(target, { hostKey, debug, timeoutMs: opts.waitMs, authSettleMs: host.driver.sshKeySettleMs ?? 0, ...(opts.signal ? { signal: opts.signal } : {}) });
  }
  return Session.connect(target, { hostKey, debug });
}

/**
 * The system `ssh` command line for the machine, with its pinned host key (HostKeyAlias),
 * or undefined when no OpenSSH client is installed.
 */
export async function systemSshCommand(host: Host, command: string[]): Promise<{ path: string; args: string[]; knownHosts: string } | undefined> {
  const ssh = await import('../ssh/index.js');
  const path = ssh.findSystemSsh();
  if (!path) return undefined;
  const target = {
    host: await host.driver.getSSHHostname(),
    port: await host.driver.getSSHPort(),
    user: host.driver.getSSHUsername(),
    privateKeyPath: host.driver.getSSHKeyPath() || undefined,
  };
  const knownHosts = knownHostsPath(host);
  return { path, knownHosts, args: ssh.buildSshArgs(target, { machine: host.name, knownHostsPath: knownHosts, extraArgs: [], command }) };
}
