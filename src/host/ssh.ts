import type { SshSession } from '../ssh/index.js';
import { MachineError } from '../errors.js';
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

function sshTarget(host: Host) {
  return Promise.all([host.driver.getSSHHostname(), host.driver.getSSHPort()]).then(([h, port]) => ({
    host: h,
    port,
    user: host.driver.getSSHUsername(),
    privateKeyPath: host.driver.getSSHKeyPath() || undefined,
  }));
}

/**
 * Checks the key the host offers against the pinned one before the system ssh runs, so that
 * a changed key is our one line with the fix, not OpenSSH's warning banner.
 */
export async function checkPinnedHostKey(host: Host, log: Logger): Promise<void> {
  const knownHosts = knownHostsPath(host);
  const { existsSync } = await import('node:fs');
  if (!existsSync(knownHosts)) return;
  const { SshSession, checkHostKey } = await import('../ssh/index.js');
  const target = await sshTarget(host);
  const key = await SshSession.offeredHostKey(target, { knownHostsPath: knownHosts, machine: host.name, debug: (l) => log.debug(l) });
  checkHostKey({ machine: host.name, knownHostsPath: knownHosts, mode: 'verify' }, `${target.host}:${target.port}`, key);
}

/**
 * `accept-host-key`: trusts the key the machine offers now (after a reinstall). The new key
 * is pinned only once the machine has also accepted our login, and replaces the old pin in
 * one rename; returns the old and new fingerprints.
 */
export async function acceptHostKey(host: Host, log: Logger): Promise<{ before: string; after: string }> {
  const { SshSession, fingerprint, readPinned } = await import('../ssh/index.js');
  const { mkdtemp, rename, rm } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const knownHosts = knownHostsPath(host);
  const old = readPinned(knownHosts, host.name)[0];
  const dir = await mkdtemp(join(host.store.machineDir(host.name), '.known_hosts-'));
  try {
    const staged = join(dir, 'known_hosts');
    const session = await SshSession.connect(await sshTarget(host), {
      hostKey: { machine: host.name, knownHostsPath: staged, mode: 'pin-on-first-use' },
      debug: (l) => log.debug(l),
    });
    session.close();
    const now = readPinned(staged, host.name)[0];
    if (!now) throw new MachineError(`Machine "${host.name}" offered no host key to pin`);
    await rename(staged, knownHosts);
    return { before: old ? fingerprint(old.keyBlob) : 'none', after: fingerprint(now.keyBlob) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
