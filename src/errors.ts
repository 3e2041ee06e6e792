// Every failure a user can see is one of these classes: the message is the line printed,
// the exit code is what scripts test. Anything else reaching the top is a bug and says so.

export class MachineError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** What --debug prints of an error's cause: its stack, where it has one. */
export function causeText(err: Error): string {
  return String((err.cause as Error)?.stack ?? err.cause);
}

/** The program's own name as the user invoked it (`machine`, or `docker-machine` via a link). */
export function progName(): string {
  const argv1 = process.argv[1] ?? 'machine';
  const base = argv1.split(/[\\/]/).pop() ?? 'machine';
  const name = base.replace(/\.(c|m)?js$/, '');
  return name === 'main' || name === '' ? 'machine' : name;
}

export class HostDoesNotExistError extends MachineError {
  constructor(readonly machine: string) {
    super(
      `Docker machine "${machine}" does not exist. Use "${progName()} ls" to list machines. Use "${progName()} create" to add a new one.`,
    );
  }
}

export class HostAlreadyExistsError extends MachineError {
  constructor(readonly machine: string) {
    super(`Docker machine "${machine}" already exists`);
  }
}

export class InvalidHostnameError extends MachineError {
  constructor(readonly machine: string) {
    super(
      `Invalid hostname specified: "${machine}". Allowed hostname chars are: 0-9a-zA-Z . - (starting with a letter or digit, at most 63 characters)`,
    );
  }
}

export class UsageError extends MachineError {}

export class CorruptConfigError extends MachineError {
  constructor(readonly path: string, detail: string) {
    super(
      `Invalid machine config ${path}: ${detail}. Fix or restore that file, or remove the machine with "${progName()} rm -f ${path.split(/[\\/]/).slice(-2, -1)[0] ?? 'NAME'}"`,
    );
  }
}

export class HostNotRunningError extends MachineError {
  constructor(readonly machine: string) {
    super(`Host is not running`);
  }
}

/** Docker Machine's answer to `start` on a running machine, `stop`/`kill` on a stopped one. */
export class HostAlreadyInStateError extends MachineError {
  constructor(
    readonly machine: string,
    readonly state: string,
  ) {
    super(`Machine "${machine}" is already ${state.toLowerCase()}.`);
  }
}

/** The user interrupted (Ctrl-C, SIGTERM, a closed terminal); the CLI exits 130 after cleanup. */
export class InterruptedError extends MachineError {
  override readonly exitCode = 130;
  constructor(message = 'Interrupted') {
    super(message);
  }
}

/** A driver's checks before anything is made failed: Docker Machine's exit code 3. */
export class PreCreateCheckError extends MachineError {
  override readonly exitCode = 3;
}

export class DriverError extends MachineError {}
/** No built-in driver, JS plugin or plugin binary of that name. */
export class DriverNotFoundError extends DriverError {}
export class SshError extends MachineError {}
export class ProvisionError extends MachineError {}
export class CertError extends MachineError {}

/** Connection or TLS check failures that `env` and `config` report with a fix. */
export class CertMismatchError extends MachineError {
  constructor(readonly machine: string, detail: string) {
    super(
      `Error checking TLS connection: ${detail}. You can attempt to regenerate them using '${progName()} regenerate-certs ${machine}' (this restarts the Docker daemon, which might stop running containers)`,
    );
  }
}

export class HostKeyMismatchError extends SshError {
  constructor(
    readonly machine: string,
    readonly host: string,
    readonly expected: string,
    readonly got: string,
  ) {
    super(
      `SSH host key for ${host} changed (pinned ${expected}, offered ${got}): possible man-in-the-middle. ` +
        `If the host was really reinstalled, run "${progName()} accept-host-key ${machine}" to trust its new key`,
    );
  }
}

/**
 * A config.json newer than any ConfigVersion this build reads. It is refused, never guessed at
 * or rewritten: the fix is a newer machine, not repairing the file.
 */
export class ConfigFromFutureError extends MachineError {
  constructor(readonly path: string, found: number, newest: number, running: string, writtenBy?: string) {
    super(
      `Machine config ${path} has ConfigVersion ${found}${writtenBy ? ` (written by machine ${writtenBy})` : ''}, newer than this ${progName()} ${running} can read (ConfigVersion ${newest} at most): upgrade machine to use it`,
    );
  }
}
