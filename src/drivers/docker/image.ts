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
