import { MachineError, UsageError, causeText } from '../../errors.js';
import { loadHost, type Host } from '../../host/host.js';
import type { Cli } from '../context.js';
import type { OptionSpecs, Parsed } from '../args.js';

const DEFAULT_MACHINE = 'default';

/** --format json on the commands that print one value (status, ip, url, version); anything else is refused. */
export const jsonFormat: OptionSpecs = {
  format: { type: 'string', short: 'f', description: 'Output format: json (the default is plain text)', placeholder: 'json' },
};

/** Whether --format asks for JSON; checked before any machine is looked at. */
export function wantsJson(parsed: Parsed): boolean {
  const f = parsed.values['format'];
  if (f === undefined || f === '') return false;
  if (f === 'json') return true;
  throw new UsageError(`--format takes "json" here, not "${String(f)}"`);
}

/** --progress, on the commands that do long work (cli/progress.ts). */
export const progressOption: OptionSpecs = {
  progress: { type: 'string', description: 'How to show progress: auto (a live display on a terminal), plain, tty, or json (events on stderr)', env: 'MACHINE_PROGRESS', placeholder: 'mode' },
};

/**
 * Docker Machine's rule: with no name, commands act on a machine called "default" if one
 * exists.
 */
export function machineNames(cli: Cli, parsed: Parsed, opts: { max?: number } = {}): string[] {
  const names = parsed.positionals;
  if (names.length === 0) {
    if (cli.store.exists(DEFAULT_MACHINE)) return [DEFAULT_MACHINE];
    throw new UsageError('Error: No machine name(s) specified and no "default" machine exists.');
  }
  if (opts.max !== undefined && names.length > opts.max) {
    throw new UsageError(`Error: Expected ${opts.max === 1 ? 'one machine name' : `at most ${opts.max} machine names`}`);
  }
  return names;
}

export async function oneHost(cli: Cli, parsed: Parsed): Promise<Host> {
  const [name] = machineNames(cli, parsed, { max: 1 });
  return loadHost(cli.store, name!, cli.log);
}

/** fn on one machine: 0, or 1 with its one-line error printed; anything untyped is a bug and goes up. */
async function onHost(cli: Cli, name: string, fn: (host: Host) => Promise<void>): Promise<number> {
  try {
    await fn(await loadHost(cli.store, name, cli.log));
    return 0;
  } catch (err) {
    if (!(err instanceof MachineError)) throw err;
    cli.err(err.message);
    // What --debug shows for a failure that stops the command (run.ts), for each machine's here.
    if (err.cause) cli.log.debug(`cause: ${causeText(err)}`);
    return 1;
  }
}

/** Runs fn for every named machine in order (output scripts read, as from ip); a failure on one is reported and the others still run. */
export async function forEachHost(cli: Cli, parsed: Parsed, fn: (host: Host) => Promise<void>): Promise<number> {
  let failed = 0;
  for (const name of machineNames(cli, parsed)) failed |= await onHost(cli, name, fn);
  return failed;
}

/**
 * Like forEachHost, but every machine at once (power operations, rm, provision): the slow part
 * runs in parallel, as Docker Machine's did. Failures are reported each on its line.
 */
export async function forEachHostParallel(cli: Cli, parsed: Parsed, fn: (host: Host) => Promise<void>): Promise<number> {
  const results = await Promise.all(machineNames(cli, parsed).map((name) => onHost(cli, name, fn)));
  return results.some((r) => r) ? 1 : 0;
}
