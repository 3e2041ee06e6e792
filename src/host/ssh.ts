import type { SshSession } from '../ssh/index.js';
import { knownHostsPath, type Host } from './host.js';
import type { DriverLogger } from '../drivers/driver.js';

/** Opens the machine's SSH session, pinning the host key on first use and checking it after. */
export async function connectHost(
  host: Host,
  log: DriverLogger,
  opts: { waitMs?: number; pin?: boolean } = {},
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
    return waitForSsh(target, { hostKey, debug, timeoutMs: opts.waitMs, authSettleMs: host.driver.sshKeySettleMs ?? 0 });
  }
  return Session.connect(target, { hostKey, debug });
}
