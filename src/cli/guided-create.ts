// `machine create` with no name, where a person sits: a short guided choice (the driver, a
// name, then each flag the driver cannot do without, its environment variable's value
// offered as the default), ending with the command line that does the same, so that the
// next time it can be typed or scripted.
import { progName } from '../errors.js';
import type { DriverModule } from '../host/drivers.js';

const DESCRIBED: Record<string, string> = {
  docker: 'system containers on a local Docker engine (seconds)',
  qemu: 'local virtual machines from cloud images',
  virtualbox: 'local virtual machines on VirtualBox',
  generic: 'any host you can reach over SSH',
  amazonec2: 'an EC2 instance on AWS',
  azure: 'a virtual machine on Azure',
  none: 'an engine someone else runs (a URL)',
};

/** POSIX shell quoting for the printed command line. */
const quote = (v: string) => (/^[A-Za-z0-9_./:@=,+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

export interface GuidedChoice {
  driver: string;
  name: string;
  flags: Record<string, string>;
  commandLine: string;
}

export async function guidedCreate(opts: {
  driverGiven?: string;
  nameGiven?: string;
  drivers: string[];
  load: (driver: string) => Promise<DriverModule>;
}): Promise<GuidedChoice> {
  const { select, input } = await import('@inquirer/prompts');
  const driver =
    opts.driverGiven ||
    (await select({
      message: 'Which driver makes the machine?',
      choices: opts.drivers.map((d) => ({ value: d, name: DESCRIBED[d] ? `${d}: ${DESCRIBED[d]}` : d })),
      default: 'docker',
    }));
  const name = opts.nameGiven ?? await input({ message: 'Name of the machine', default: 'default', validate: (v) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v) || 'letters, digits, ".", "_" and "-", starting with a letter or digit' });
  const mod = await opts.load(driver);
  const flags: Record<string, string> = {};
  for (const spec of mod.flags.filter((f) => f.required)) {
    const fromEnv = spec.env ? process.env[spec.env] : undefined;
    flags[spec.name] = await input({
      message: `--${spec.name}: ${spec.description}${spec.env ? ` (${spec.env})` : ''}`,
      ...(fromEnv ? { default: fromEnv } : {}),
      validate: (v) => v.trim() !== '' || `${driver} needs --${spec.name}`,
    });
  }
  const commandLine = [progName(), 'create', '-d', driver, ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, quote(v)]), name].join(' ');
  return { driver, name, flags, commandLine };
}
