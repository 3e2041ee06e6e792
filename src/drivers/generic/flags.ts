import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { homeDir } from '../../os-facts.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';
import { isHostAddress } from '../../net/ipv4.js';
import { flagInt, flagString } from '../base.js';
import type { FlagSpec, FlagValues } from '../driver.js';
import { defaultsOf, int, settingsSchema, str, type SettingsOf } from '../settings.js';

/** Docker Machine's generic driver fields: the base ones plus EnginePort and the user's key. */
export const GenericSettingsSchema = settingsSchema({
  EnginePort: int(DEFAULT_ENGINE_PORT),
  /** The key as the user gave it; SSHKeyPath is the copy in the machine's directory. */
  SSHKey: str(),
});
export type GenericSettings = SettingsOf<typeof GenericSettingsSchema>;
const D = defaultsOf(GenericSettingsSchema);

export const genericFlags: FlagSpec[] = [
  { name: 'generic-ip-address', type: 'string', description: 'IP Address of machine', env: 'GENERIC_IP_ADDRESS', required: true },
  { name: 'generic-ssh-user', type: 'string', description: 'SSH user', default: D.SSHUser, env: 'GENERIC_SSH_USER' },
  { name: 'generic-ssh-key', type: 'string', description: 'SSH private key path (default: ~/.ssh/id_ed25519 or id_rsa)', env: 'GENERIC_SSH_KEY' },
  { name: 'generic-ssh-port', type: 'int', description: 'SSH port', default: D.SSHPort, env: 'GENERIC_SSH_PORT' },
  { name: 'generic-engine-port', type: 'int', description: 'Docker engine port', default: D.EnginePort, env: 'GENERIC_ENGINE_PORT' },
];

function port(flag: string, value: unknown, fallback: number): number {
  const n = flagInt(value, fallback);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${flag} takes a port from 1 to 65535, not "${String(value)}"`);
  return n;
}

export function defaultUserKey(home = homeDir()): string {
  for (const name of ['id_ed25519', 'id_rsa', 'id_ecdsa']) {
    const p = join(home, '.ssh', name);
    if (existsSync(p)) return p;
  }
  return '';
}

/** The flags' part of the settings, checked before anything is made. */
export function parseGenericFlags(flags: FlagValues): Pick<GenericSettings, 'IPAddress' | 'SSHUser' | 'SSHPort' | 'EnginePort' | 'SSHKey'> {
  const ip = flagString(flags['generic-ip-address']);
  if (!ip) throw new UsageError('generic driver requires the --generic-ip-address option');
  // Checked here, so that a typo fails at once instead of after a DNS lookup and the whole wait.
  if (!isHostAddress(ip)) throw new UsageError(`--generic-ip-address "${ip}" is not an IP address or host name`);
  const sshPort = port('generic-ssh-port', flags['generic-ssh-port'], D.SSHPort);
  const enginePort = port('generic-engine-port', flags['generic-engine-port'], D.EnginePort);
  const key = flagString(flags['generic-ssh-key']) || defaultUserKey();
  if (!key) throw new UsageError('generic driver needs --generic-ssh-key: no key was found in ~/.ssh');
  return {
    IPAddress: ip,
    SSHUser: flagString(flags['generic-ssh-user'], D.SSHUser) || D.SSHUser,
    SSHPort: sshPort,
    EnginePort: enginePort,
    SSHKey: key,
  };
}
