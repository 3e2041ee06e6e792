import { HostKeyMismatchError, MachineError, UsageError, causeText, progName } from '../errors.js';
import type { Store } from '../store/store.js';
import { loadHost, openStore } from '../host/host.js';
import { UnknownFlagError, formatOptions, parseCommand, str, type OptionSpecs } from './args.js';
import type { Cli, Command, Globals } from './context.js';
import { makeCommandLogger, resolveMode, type CommandLogger } from './progress.js';
import { VERSION } from '../version.js';
import { writeErr, writeOut } from './out.js';
import { setAnswerTap, type AnswerTap } from '../answer-tap.js';

export const globalOptions: OptionSpecs = {
  debug: { type: 'boolean', short: 'D', description: 'Enable debug mode (every SSH command and API call)', env: 'MACHINE_DEBUG' },
  'storage-path': { type: 'string', short: 's', description: 'Configures storage path', env: 'MACHINE_STORAGE_PATH', placeholder: 'path' },
  'tls-ca-cert': { type: 'string', description: 'CA to verify remotes against', env: 'MACHINE_TLS_CA_CERT', placeholder: 'file' },
  'tls-ca-key': { type: 'string', description: 'Private key to generate certificates', env: 'MACHINE_TLS_CA_KEY', placeholder: 'file' },
  'tls-client-cert': { type: 'string', description: 'Client cert to use for TLS', env: 'MACHINE_TLS_CLIENT_CERT', placeholder: 'file' },
  'tls-client-key': { type: 'string', description: 'Private key used in client TLS auth', env: 'MACHINE_TLS_CLIENT_KEY', placeholder: 'file' },
  'native-ssh': { type: 'boolean', description: 'Use the built-in SSH client instead of the system ssh', env: 'MACHINE_NATIVE_SSH' },
  'github-api-token': { type: 'string', description: 'Accepted for compatibility; unused', env: 'MACHINE_GITHUB_API_TOKEN' },
  'bugsnag-api-token': { type: 'string', description: 'Accepted for compatibility; unused', env: 'MACHINE_BUGSNAG_API_TOKEN' },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
  version: { type: 'boolean', short: 'v', description: 'Print the version' },
};

type Loader = () => Promise<{ default: Command }>;

/** The command table: a command's module loads only when it runs. */
export const commands: Array<{ name: string; description: string; load: Loader; aliases?: string[] }> = [
  { name: 'accept-host-key', description: 'Trust the SSH host key a reinstalled machine offers now', load: () => import('./commands/accept-host-key.js') },
  { name: 'active', description: 'Print which machine is active', load: () => import('./commands/active.js') },
  { name: 'completion', description: 'Print the shell completion script (bash, zsh, fish)', load: () => import('./commands/completion.js').then((m) => ({ default: m.completion })) },
  { name: 'config', description: 'Print the connection config for machine', load: () => import('./commands/config.js') },
  { name: 'create', description: 'Create a machine', load: () => import('./commands/create.js') },
  { name: 'env', description: 'Display the commands to set up the environment for the Docker client', load: () => import('./commands/env.js') },
  { name: 'image', description: "Build a driver's base image (image build docker)", load: () => import('./commands/image.js') },
  { name: 'inspect', description: 'Inspect information about a machine', load: () => import('./commands/inspect.js') },
  { name: 'ip', description: 'Get the IP address of a machine', load: () => import('./commands/ip.js') },
  { name: 'kill', description: 'Kill a machine', load: () => import('./commands/lifecycle.js').then((m) => ({ default: m.kill })) },
  { name: 'ls', description: 'List machines', load: () => import('./commands/ls.js') },
  { name: 'mount', description: 'Mount or unmount a directory from a machine with SSHFS.', load: () => import('./commands/mount.js') },
  { name: 'port-forward', description: "Forward local ports to the machine's ports through SSH", load: () => import('./commands/port-forward.js') },
  { name: 'provision', description: 'Re-provision existing machines', load: () => import('./commands/provision.js') },
  { name: 'regenerate-certs', description: 'Regenerate TLS Certificates for a machine', load: () => import('./commands/regenerate-certs.js') },
  { name: 'restart', description: 'Restart a machine', load: () => import('./commands/lifecycle.js').then((m) => ({ default: m.restart })) },
  { name: 'rm', description: 'Remove a machine', load: () => import('./commands/rm.js') },
  { name: 'ssh', description: 'Log into or run a command on a machine with SSH.', load: () => import('./commands/ssh.js') },
  { name: 'scp', description: 'Copy files between machines', load: () => import('./commands/scp.js') },
  { name: 'swarm', description: 'Manage swarm-mode clusters (create, ls, inspect, rm)', load: () => import('./commands/swarm.js') },
  { name: 'start', description: 'Start a machine', load: () => import('./commands/lifecycle.js').then((m) => ({ default: m.start })) },
  { name: 'status', description: 'Get the status of a machine', load: () => import('./commands/status.js') },
  { name: 'stop', description: 'Stop a machine', load: () => import('./commands/lifecycle.js').then((m) => ({ default: m.stop })) },
  { name: 'upgrade', description: 'Upgrade a machine to the latest version of Docker', load: () => import('./commands/upgrade.js') },
  { name: 'url', description: 'Get the URL of a machine', load: () => import('./commands/url.js') },
  { name: 'use', description: "Point the docker CLI at a machine through a docker context", load: () => import('./commands/use.js') },
  { name: 'version', description: 'Show the Docker Machine version or a machine docker version', load: () => import('./commands/version.js') },
  { name: '__complete', description: 'Completion candidates (for the completion scripts)', load: () => import('./commands/completion.js').then((m) => ({ default: m.complete })) },
  { name: 'help', description: 'Shows a list of commands or help for one command', load: async () => ({ default: helpCommand }) },
];

function findCommand(name: string) {
  return commands.find((c) => c.name === name || c.aliases?.includes(name));
}

/** The command of that name, or one line naming the closest real one. */
async function loadCommand(name: string): Promise<Command> {
  const entry = findCommand(name);
  if (!entry) {
    const p = progName();
    const hint = await suggestCommand(name);
    throw new UsageError(`${p}: '${name}' is not a ${p} command.${hint} See '${p} help'.`);
  }
  return (await entry.load()).default;
}

/** ` Did you mean "create"?` or nothing; the suggester loads only for a mistyped command. */
async function suggestCommand(name: string): Promise<string> {
  const { didYouMean } = await import('./suggest.js');
  return didYouMean(name, commands.filter((c) => !c.name.startsWith('_')).map((c) => c.name));
}

/** `COMMAND --help` and `help COMMAND` print this same text. */
async function helpText(cmd: Command, args: string[]): Promise<string> {
  return cmd.help ? cmd.help(args) : commandHelp(cmd);
}

/** Splits `[global flags] COMMAND [command args]`; global flags must come first, as in Docker Machine. */
function splitGlobal(argv: string[]): { globalArgs: string[]; command?: string; args: string[] } {
  const takesValue = new Set<string>();
  for (const [name, s] of Object.entries(globalOptions)) {
    if (s.type === 'string') {
      takesValue.add(`--${name}`);
      if (s.short) takesValue.add(`-${s.short}`);
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('-')) {
      if (!a.includes('=') && takesValue.has(a)) i++;
      continue;
    }
    return { globalArgs: argv.slice(0, i), command: a, args: argv.slice(i + 1) };
  }
  return { globalArgs: argv, args: [] };
}

/**
 * The process's only interrupt handler. The first Ctrl-C, SIGTERM or SIGHUP (a closed
 * terminal) aborts the command's signal: work under way stops at its next step and removes
 * what it made. A second one quits at once, saying what may be left.
 */
let interruptController: AbortController | undefined;
function interruptHandler(): AbortController {
  if (interruptController) return interruptController;
  const controller = new AbortController();
  interruptController = controller;
  const onSignal = (sig: NodeJS.Signals) => {
    // The terminal is gone: writes to it fail with EIO, which must not crash the cleanup.
    if (sig === 'SIGHUP') for (const out of [process.stdout, process.stderr]) out.on('error', () => undefined);
    if (!controller.signal.aborted) {
      process.stderr.write(`${sig === 'SIGINT' ? 'Interrupted' : `Got ${sig}`}: stopping and cleaning up (again to quit at once)...\n`);
      controller.abort(new Error(`interrupted by ${sig}`));
      return;
    }
    process.stderr.write(`Quitting without finishing the cleanup: check "${progName()} ls" and remove half-made machines with "${progName()} rm -f NAME"\n`);
    process.exit(130);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  return controller;
}

/** `tap`: the answer cache's, when it records this run (main.ts). */
export async function run(argv: string[], opts: { keyAccepted?: boolean; tap?: AnswerTap } = {}): Promise<number> {
  setAnswerTap(opts.tap);
  let debug = false;
  let logger: CommandLogger | undefined;
  let opened: Store | undefined;
  try {
    const { globalArgs, command, args } = splitGlobal(argv);
    const g = parseCommand('', globalArgs, globalOptions).values;
    debug = g['debug'] === true;
    if (g['version']) {
      writeOut(`${progName()} version ${VERSION}\n`);
      return 0;
    }
    // Docker Machine's way: no command prints the command list, and that is not an error.
    if (!command || g['help']) {
      writeOut(mainHelp());
      return 0;
    }
    const cmd = await loadCommand(command);
    if (!cmd.answerable || debug) opts.tap?.pass();
    const specs = cmd.resolveOptions ? await cmd.resolveOptions(args) : cmd.options;
    // For ssh, what follows the machine's name is the remote command's, --help included.
    const first = args.findIndex((a) => !a.startsWith('-'));
    const own = cmd.stopAtPositional && first >= 0 ? args.slice(0, first) : args;
    if (own.includes('--help') || (own.includes('-h') && cmd.name !== 'ssh')) {
      writeOut(await helpText(cmd, args));
      return 0;
    }
    const store = openStore(str(g['storage-path']), (m) => writeErr(`${m}\n`));
    opened = store;
    const globals: Globals = {
      debug,
      nativeSsh: g['native-ssh'] === true,
      storagePath: store.root,
      tlsCaCert: str(g['tls-ca-cert']),
      tlsCaKey: str(g['tls-ca-key']),
      tlsClientCert: str(g['tls-client-cert']),
      tlsClientKey: str(g['tls-client-key']),
    };
    const parsed = parseCommand(cmd.name, args, specs, cmd.stopAtPositional ? { stopAtPositional: cmd.stopAtPositional } : {});
    logger = makeCommandLogger(resolveMode(str(parsed.values['progress'])), debug);
    const log = logger;
    const cli: Cli = {
      store,
      globals,
      out: (t) => log.outLine(t.endsWith('\n') ? t.slice(0, -1) : t),
      err: (t) => log.errorLine(t.endsWith('\n') ? t.slice(0, -1) : t),
      log,
      // Installed by the commands that do long work: elsewhere (ssh) Ctrl-C keeps its usual meaning.
      get signal() {
        return interruptHandler().signal;
      },
    };
    const code = await cmd.run(cli, parsed);
    const result = interruptController?.signal.aborted ? 130 : (code ?? 0);
    await logger.finish(result === 0, result === 130 ? 'interrupted' : `exit status ${result}`);
    // As JSON events (with times) the output is not the answer alone (--debug passed above).
    if (result === 0 && cmd.answerable && logger.mode !== 'json') opts.tap?.answerable();
    return result;
  } catch (err) {
    // In json mode the error is the stream's last event, not a text line.
    if (logger?.mode === 'json') {
      await logger.finish(false, err instanceof MachineError ? err.message : `${(err as Error)?.message ?? String(err)} (unexpected: run again with --debug)`);
      return err instanceof MachineError ? err.exitCode : 1;
    }
    await logger?.finish(false);
    // A person at a terminal decides about a changed host key; scripts get the refusal.
    if (err instanceof HostKeyMismatchError && opened && !opts.keyAccepted && (await offerNewHostKey(opened, err))) {
      return run(argv, { keyAccepted: true });
    }
    if (err instanceof MachineError) {
      writeErr(`${err instanceof UnknownFlagError ? await err.withSuggestion() : err.message}\n`);
      if (debug && err.cause) writeErr(`(debug) cause: ${causeText(err)}\n`);
      return err.exitCode;
    }
    // Anything untyped is our bug: say so, with the stack under --debug.
    const e = err as Error;
    const line = (e?.message ?? String(err)).split('\n')[0];
    writeErr(`Error: ${line} (unexpected: run again with --debug for details, and please report it)\n`);
    if (debug) writeErr(`${e?.stack ?? ''}\n`);
    return 1;
  }
}

/** Shows both fingerprints and asks; on yes the new key is pinned (accept-host-key's way) and the command runs again. */
async function offerNewHostKey(store: Store, err: HostKeyMismatchError): Promise<boolean> {
  const { interactive, ask } = await import('./prompt.js');
  if (!interactive()) return false;
  process.stderr.write(
    `The SSH host key of "${err.machine}" (${err.host}) changed:\n  pinned  ${err.expected}\n  offered ${err.got}\n` +
      'Trust the new key only if the machine was really reinstalled; otherwise someone may be in the middle.\n',
  );
  if (!(await ask(`Trust the new host key of ${err.machine}?`))) return false;
  const { acceptHostKey } = await import('../host/ssh.js');
  const { after } = await acceptHostKey(await loadHost(store, err.machine), makeCommandLogger('plain', false, true));
  process.stderr.write(`Pinned ${after} for "${err.machine}"; running the command again.\n`);
  return true;
}

export function mainHelp(): string {
  const p = progName();
  const width = Math.max(...commands.map((c) => c.name.length)) + 3;
  return [
    `Usage: ${p} [OPTIONS] COMMAND [arg...]`,
    '',
    'Create and manage machines running Docker.',
    '',
    `Version: ${VERSION}`,
    '',
    'Options:',
    formatOptions(globalOptions),
    '',
    'Commands:',
    ...commands.filter((c) => !c.name.startsWith('_')).map((c) => `  ${c.name.padEnd(width)}${c.description}`),
    '',
    `Run '${p} COMMAND --help' for more information on a command.`,
    '',
  ].join('\n');
}

export function commandHelp(cmd: Command): string {
  const p = progName();
  return [
    `Usage: ${p} ${cmd.name} ${cmd.usage}`,
    '',
    cmd.description,
    '',
    ...(Object.keys(cmd.options).length ? ['Options:', '', formatOptions(cmd.options), ''] : []),
  ].join('\n');
}

const helpCommand: Command = {
  name: 'help',
  usage: '[COMMAND]',
  description: 'Shows a list of commands or help for one command',
  options: {},
  async run(cli, parsed) {
    const name = parsed.positionals[0];
    if (!name) {
      cli.out(mainHelp());
      return;
    }
    if (!findCommand(name)) throw new UsageError(`No help topic for '${name}'.${await suggestCommand(name)}`);
    cli.out(await helpText(await loadCommand(name), parsed.positionals.slice(1)));
  },
};
