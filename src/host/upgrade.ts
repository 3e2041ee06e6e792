import type { Logger } from '../log.js';
import { rootRemote } from '../provision/remote.js';
import { parseOsRelease } from '../provision/os-release.js';
import { detectFamily } from '../provision/families.js';
import type { Host } from './host.js';
import { connectHost } from './ssh.js';
import { assertRunning } from './lifecycle.js';

// Whichever engine packages are installed (Docker's or the distribution's) get upgraded.
const ENGINE_PACKAGES = ['docker-ce', 'docker-ce-cli', 'containerd.io', 'docker.io', 'docker', 'moby-engine'];

export async function upgradeEngine(host: Host, log: Logger): Promise<void> {
  await assertRunning(host);
  const session = await connectHost(host, log);
  try {
    const remote = rootRemote(session, host.driver.getSSHUsername());
    const family = detectFamily(parseOsRelease(await remote.run('cat /etc/os-release')));
    log.info('Upgrading docker...');
    const upgrade =
      family.name === 'debian'
        ? `export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --only-upgrade ${ENGINE_PACKAGES.join(' ')}`
        : family.name === 'redhat'
          ? `(command -v dnf >/dev/null && dnf upgrade -y -q ${ENGINE_PACKAGES.join(' ')}) || yum update -y -q ${ENGINE_PACKAGES.join(' ')}`
          : `zypper --non-interactive update ${ENGINE_PACKAGES.join(' ')}`;
    await remote.run(upgrade, { timeoutMs: 20 * 60_000 });
    log.info('Restarting docker...');
    await remote.run('systemctl restart docker.service');
  } finally {
    session.close();
  }
}
