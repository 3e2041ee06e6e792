import type { Logger } from '../../log.js';
import { buildRootfsTarball, hostRecipe, hostWithEngineRecipe, importImage } from '../../images/rootfs.js';

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
  const tar = await buildRootfsTarball({ recipe, cacheDir: opts.cacheDir, onProgress: (l) => opts.log.debug(l) });
  opts.log.info(`Importing ${tar} into ${opts.dockerHost} as ${opts.tag}...`);
  await importImage({ dockerHost: opts.dockerHost, tarPath: tar, tag: opts.tag });
}
