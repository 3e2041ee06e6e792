import { ProvisionError, progName } from '../errors.js';
import type { Logger } from '../log.js';
import { rootRemote } from '../provision/remote.js';
import { parseOsRelease } from '../provision/os-release.js';
import { detectFamily } from '../provision/families.js';
import { engineStartError, startEngineScript } from '../provision/engine-start.js';
import { DROPIN_PATH } from '../provision/engine-config.js';
import type { Host } from './host.js';
import { connectHost } from './ssh.js';
import { startHost, waitForEngine } from './lifecycle.js';

/**
 * Upgrades whichever engine packages are installed (Docker's or the distribution's), then
 * restarts the engine and returns once it answers, so the next docker command works. Runs
 * under the machine's store lock (the upgrade command takes it).
 */
export async function upgradeEngine(host: Host, log: Logger): Promise<void> {
  // Docker Machine's rule: a machine that is not running is started first, not refused.
  if ((await host.driver.getState()) !== 'Running') {
    log.info('Starting machine so machine can be upgraded...');
    await startHost(host, log, { locked: true });
  }
  const session = await connectHost(host, log);
  try {
    const remote = rootRemote(session, host.driver.getSSHUsername());
    const family = detectFamily(parseOsRelease(await remote.run('cat /etc/os-release')));
    // Only names the package manager has installed: apt refuses the whole command for one
    // name it does not know (moby-engine, containerd.io on Debian), and nothing is to be
    // installed that was not there.
    const installed = (await remote.run(family.installed(family.enginePackages))).split('\n').map((l) => l.trim()).filter(Boolean);
    if (!installed.length) {
      throw new ProvisionError(
        `No Docker engine package (${family.enginePackages.join(', ')}) is installed on "${host.name}": its engine was installed another way; upgrade it the way it was installed`,
      );
    }
    log.info(`Upgrading docker (${installed.join(', ')})...`);
    const up = await remote.exec(family.upgrade(installed), { timeoutMs: 20 * 60_000 });
    if (up.code !== 0) {
      const last = (up.stderr.trim() || up.stdout.trim()).split('\n').pop() ?? '';
      throw new ProvisionError(
        `Upgrading ${installed.join(', ')} on "${host.name}" failed (exit ${up.code}): ${last}: fix the host's package manager, then run "${progName()} upgrade ${host.name}" again`,
      );
    }
    log.info('Restarting docker...');
    const restart = await remote.exec('sh -s', { stdin: startEngineScript(['(systemctl reset-failed docker.service 2>/dev/null || true)', 'systemctl restart docker.service']) + '\n' });
    if (restart.code !== 0) {
      throw (
        engineStartError(restart.stderr, `the upgraded engine refuses its configuration in ${DROPIN_PATH}: fix the engine options, then run "${progName()} provision ${host.name}"`) ??
        new ProvisionError(`Restarting docker on "${host.name}" failed (exit ${restart.code}): ${restart.stderr.trim().split('\n').pop() ?? ''}`)
      );
    }
  } finally {
    session.close();
  }
  await waitForEngine(host, log);
}
