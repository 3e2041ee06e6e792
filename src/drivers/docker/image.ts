import type { Logger } from '../../log.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';
import { buildRootfsTarball, hostRecipe, importImage, type RootfsRecipe } from '../../images/rootfs.js';
import { DROPIN_PATH, REMOTE_CERT, renderDropIn } from '../../provision/engine-config.js';
import { defaultEngineOptions } from '../../store/schema.js';
import { DOCKER_DRIVER_NAME } from './flags.js';

/**
 * The engine's drop-in as provisioning renders it for a machine of this driver with the
 * default engine options, on Debian's docker.io unit (`dockerd -H fd://
 * --containerd=/run/containerd/containerd.sock`). Found in place, it spares every create a
 * systemd reload (a tenth of a core-second); other options, or a changed unit, make
 * provisioning write its own, as on any host.
 */
export function bakedDropIn(): string {
  return renderDropIn({
    dockerdPath: '/usr/sbin/dockerd',
    socketActivated: true,
    keptArgs: ['--containerd=/run/containerd/containerd.sock'],
    enginePort: DEFAULT_ENGINE_PORT,
    driverName: DOCKER_DRIVER_NAME,
    engine: defaultEngineOptions(),
  });
}

/** The base image with Debian's engine baked in: machines then skip the install on create. */
export const hostWithEngineRecipe: RootfsRecipe = {
  ...hostRecipe,
  packages: ['docker.io'],
  // Not started until the provisioner has put the engine's TLS certificate in place: it then
  // starts once, with its TLS configuration, instead of every machine starting it twice. Yet
  // enabled, so that provisioning needs no `systemctl enable`, which also runs Debian's
  // update-rc.d for the SysV script (a third of a core-second per create).
  extraSetup: [
    'systemctl disable docker.service docker.socket containerd.service >/dev/null 2>&1 || true',
    'mkdir -p /etc/systemd/system/docker.service.d /etc/systemd/system/multi-user.target.wants',
    `printf '[Unit]\\nConditionPathExists=${REMOTE_CERT}\\n' > /etc/systemd/system/docker.service.d/05-machine-wait-tls.conf`,
    'ln -sf /lib/systemd/system/docker.service /etc/systemd/system/multi-user.target.wants/docker.service',
    `cat > ${DROPIN_PATH} <<'MACHINE_DROPIN'\n${bakedDropIn()}MACHINE_DROPIN`,
  ].join('\n'),
};

/**
 * `machine image build docker`: the base image from a Debian rootfs, imported into the
 * engine, so no registry is needed anywhere.
 */
export async function buildBaseImage(opts: {
  dockerHost: string;
  tag: string;
  cacheDir: string;
  log: Logger;
  /** Bake Debian's docker.io in, so that creating a machine skips the engine install. */
  withEngine?: boolean;
}): Promise<void> {
  const recipe = opts.withEngine ? hostWithEngineRecipe : hostRecipe;
  opts.log.info(`Building the base image ${opts.tag} from a Debian ${recipe.suite} rootfs${opts.withEngine ? ' with docker.io' : ''} (cached in ${opts.cacheDir})...`);
  // debootstrap's phases are steps; each package it fetches or unpacks is the step's detail
  // (a live line on a terminal), so the minutes it takes are never silent.
  let count = 0;
  const onProgress = (line: string) => {
    if (/^(debootstrap|installing|packing)/.test(line)) opts.log.info(line.charAt(0).toUpperCase() + line.slice(1));
    else opts.log.progress?.({ detail: `${++count} ${line}` });
    opts.log.debug(line);
  };
  const tar = await buildRootfsTarball({ recipe, cacheDir: opts.cacheDir, onProgress });
  opts.log.info(`Importing ${tar} into ${opts.dockerHost} as ${opts.tag}...`);
  await importImage({ dockerHost: opts.dockerHost, tarPath: tar, tag: opts.tag });
}
