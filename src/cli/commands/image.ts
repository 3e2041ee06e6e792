import { UsageError, progName } from '../../errors.js';
import type { Command } from '../context.js';
import { str } from '../args.js';
import { progressOption } from './common.js';

const image: Command = {
  name: 'image',
  usage: 'build docker [--engine] [--docker-host URL] [--docker-image TAG]',
  description:
    "Build the base image a driver needs. 'image build docker' makes the docker driver's systemd + sshd image " +
    'from a Debian rootfs (debootstrap, run as root) and imports it into the engine; no registry is needed.',
  options: {
    ...progressOption,
    'docker-host': { type: 'string', description: 'Docker engine to build for', default: 'unix:///var/run/docker.sock', env: 'MACHINE_DOCKER_HOST', placeholder: 'url' },
    'docker-image': { type: 'string', description: 'Tag of the image to build (default machine-host:bookworm, or machine-host:bookworm-engine with --engine)', placeholder: 'tag' },
    engine: { type: 'boolean', description: "Bake Debian's docker.io into the image: creates skip the engine install" },
  },
  async run(cli, parsed) {
    const [verb, driver] = parsed.positionals;
    if (verb !== 'build' || driver !== 'docker') throw new UsageError(`Usage: ${progName()} image build docker`);
    const { buildBaseImage } = await import('../../host/images.js');
    const withEngine = parsed.values['engine'] === true;
    const tag = str(parsed.values['docker-image']) || (withEngine ? 'machine-host:bookworm-engine' : 'machine-host:bookworm');
    await buildBaseImage({ dockerHost: str(parsed.values['docker-host']), tag, cacheDir: cli.store.cacheDir, log: cli.log, withEngine });
    cli.out(`Image ${tag} is ready on ${str(parsed.values['docker-host'])}`);
  },
};
export default image;
