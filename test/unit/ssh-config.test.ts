import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMachineSshConfig } from '../../src/ssh/ssh-config.js';

// The machine's entry as OpenSSH itself reads it (`ssh -G` prints the settings a connection
// would use, without connecting).
const sshMissing = existsSync('/usr/bin/ssh') ? '' : 'the OpenSSH client is not installed (npm test installs it)';
if (sshMissing && process.env.CI) throw new Error(sshMissing);

describe.skipIf(sshMissing)(`a machine's ssh_config entry${sshMissing ? ` (skipped: ${sshMissing})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'machine-sshcfg-'));
  const file = join(dir, 'config');
  // Pinned at create: from then on a key that differs is refused (yes, not accept-new).
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, 'machine-m1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0Vgp5Y2Vv\n');
  writeFileSync(
    file,
    renderMachineSshConfig(
      { host: '127.0.0.1', port: 2222, user: 'docker', privateKeyPath: '/s/machines/m1/id ed25519' },
      { machine: 'm1', knownHostsPath: knownHosts },
    ),
  );
  const settings = (...args: string[]) => {
    const out = execFileSync('/usr/bin/ssh', ['-F', file, '-G', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
  };

  it('ssh machine-NAME reaches the machine with its key, checking the pinned host key', () => {
    const s = settings('machine-m1');
    expect(s).toMatchObject({
      hostname: '127.0.0.1',
      port: '2222',
      user: 'docker',
      hostkeyalias: 'machine-m1',
      userknownhostsfile: knownHosts,
      identitiesonly: 'yes',
      stricthostkeychecking: 'true',
    });
    // A path with a space survives the quoting.
    expect(s['identityfile']).toBe('/s/machines/m1/id ed25519');
  });

  it('the address, user and port the docker CLI dials for ssh:// get the same settings; another port does not', () => {
    expect(settings('-l', 'docker', '-p', '2222', '127.0.0.1')).toMatchObject({ hostkeyalias: 'machine-m1', userknownhostsfile: knownHosts });
    expect(settings('-l', 'docker', '-p', '2223', '127.0.0.1')['hostkeyalias']).toBeUndefined();
    expect(settings('-l', 'root', '-p', '2222', '127.0.0.1')['hostkeyalias']).toBeUndefined();
  });
});
