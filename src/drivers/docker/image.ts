import type { DriverLogger } from '../driver.js';
import { buildRootfsTarball, hostRecipe, importImage } from '../../images/rootfs.js';

/**
 * `machine image build docker`: the base image from a Debian rootfs, imported into the
 * engine, so no registry is needed anywhere.
 */
export async function buildBaseImage(opts: { dockerHost: string; tag: string; cacheDir: string; log: DriverLogger }): Promise<void> {
  opts.log.info(`Building the base image ${opts.tag} from a Debian ${hostRecipe.suite} rootfs (cached in ${opts.cacheDir})...`);
  const tar = await buildRootfsTarball({ recipe: hostRecipe, cacheDir: opts.cacheDir, onProgress: (l) => opts.log.debug(l) });
  opts.log.info(`Importing ${tar} into ${opts.dockerHost} as ${opts.tag}...`);
  await importImage({ dockerHost: opts.dockerHost, tarPath: tar, tag: opts.tag });
}
