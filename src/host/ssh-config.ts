// Each machine's OpenSSH client entry, and the one line in the user's ~/.ssh/config that
// brings them in. Policy:
// - machines/NAME/ssh_config is machine's own and rewritten whenever the machine's address may
//   have changed (after provisioning and on start); the store's ssh_config includes them all
//   with a glob, so no file lists machines and rm needs nothing.
// - ~/.ssh/config is the user's: machine adds `Include "<store>/ssh_config"` at its top only
//   when allowed (--ssh-config, or yes on a terminal, asked once per store; a no is kept in
//   the store). At the top, because an Include after a Host line would belong to that Host.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homeDir } from '../os-facts.js';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { machineFiles, storeSshConfig, storeSshConfigDeclined } from '../store/machine-files.js';
import { writeFileAtomic } from '../sys/atomic.js';
import { knownHostsPath, type Host } from './host.js';

const SSH_CONFIG_LOCK = '.ssh-config';

/** The user's OpenSSH client configuration (HOME's, as ssh reads it for the user). */
export function userSshConfigPath(): string {
  return join(homeDir(), '.ssh', 'config');
}

const includeLine = (store: Store) => `Include "${storeSshConfig(store.root)}"`;

/** Writes the machine's entry (and the store's file that includes it). Never fails the caller. */
export async function writeMachineSshConfig(host: Host, log: Logger): Promise<void> {
  try {
    const { renderMachineSshConfig } = await import('../ssh/ssh-config.js');
    const target = {
      host: await host.driver.getSSHHostname(),
      port: await host.driver.getSSHPort(),
      user: host.driver.getSSHUsername(),
      privateKeyPath: host.driver.getSSHKeyPath() || undefined,
    };
    const text = renderMachineSshConfig(target, { machine: host.name, knownHostsPath: knownHostsPath(host) });
    await writeFileAtomic(machineFiles(host.store.machineDir(host.name)).sshConfig, text, 0o600);
    const storeFile = storeSshConfig(host.store.root);
    const storeText = `# Written by machine: every machine's entry (ssh machine-NAME).\nInclude "${join(host.store.machinesDir, '*', 'ssh_config')}"\n`;
    if (!existsSync(storeFile) || readFileSync(storeFile, 'utf8') !== storeText) await writeFileAtomic(storeFile, storeText, 0o600);
  } catch (err) {
    log.debug(`ssh_config of ${host.name} not written: ${(err as Error).message}`);
  }
}

export type IncludeState = 'included' | 'declined' | 'absent';

export function sshIncludeState(store: Store): IncludeState {
  const file = userSshConfigPath();
  if (existsSync(file) && readFileSync(file, 'utf8').split('\n').some((l) => l.trim() === includeLine(store))) return 'included';
  return existsSync(storeSshConfigDeclined(store.root)) ? 'declined' : 'absent';
}

/** Adds the Include at the top of ~/.ssh/config, keeping the rest and the file's mode. */
export async function addSshInclude(store: Store): Promise<void> {
  await store.withLock(SSH_CONFIG_LOCK, async () => {
    if (sshIncludeState(store) === 'included') return;
    const file = userSshConfigPath();
    const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const mode = existsSync(file) ? statSync(file).mode & 0o777 : 0o600;
    await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
    const head = `# Added by machine: its machines' entries, with their pinned host keys (ssh machine-NAME).\n${includeLine(store)}\n\n`;
    await writeFileAtomic(file, head + old, mode);
  });
}

export async function declineSshInclude(store: Store): Promise<void> {
  await writeFileAtomic(storeSshConfigDeclined(store.root), 'The user said no to adding an Include to ~/.ssh/config; create --ssh-config adds it.\n', 0o600);
}

/** The line that tells a user what to add by hand (or which flag does it). */
export function includeAdvice(store: Store, name: string, prog: string): string {
  return `To let ssh and the docker CLI reach "${name}" with its pinned host key, add ${includeLine(store)} at the top of ${userSshConfigPath()} (or run "${prog} provision --ssh-config ${name}")`;
}
