import { ProvisionError } from '../errors.js';
import { shQuote } from '../sys/shell-quote.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** The little a provisioner needs of a host: run a command as root, write a file as root. */
export interface Remote {
  exec(command: string, opts?: RemoteExecOptions): Promise<ExecResult>;
  run(command: string, opts?: RemoteExecOptions): Promise<string>;
  writeFile(path: string, data: string | Buffer, mode?: number): Promise<void>;
}

export interface RemoteExecOptions {
  stdin?: string | Buffer;
  timeoutMs?: number;
  /** Each line of stdout as it comes. */
  onLine?: (line: string) => void;
  /** A second message on the same command (see src/ssh's ExecOptions). */
  dialogue?: { marker: string; reply: (before: string) => Promise<string | Buffer> };
}

/** What an SSH session offers (src/ssh's SshSession satisfies it). */
export interface CommandRunner {
  exec(command: string, opts?: RemoteExecOptions): Promise<ExecResult>;
}

/**
 * Runs everything through `sudo -n sh -c` unless the SSH user is root, so the provisioner
 * is written once for both.
 */
export function rootRemote(runner: CommandRunner, user: string): Remote {
  const wrap = (command: string) => (user === 'root' ? command : `sudo -n sh -c ${shQuote(command)}`);
  const exec = async (command: string, opts?: RemoteExecOptions) => {
    const r = await runner.exec(wrap(command), opts);
    // sudo -n never asks: a user without passwordless sudo gets this, whatever the command.
    if (user !== 'root' && r.code !== 0 && /^sudo: (a password is required|a terminal is required|.*may not run sudo)/m.test(r.stderr)) {
      throw new ProvisionError(
        `User "${user}" needs passwordless sudo on the host (sudo -n refused: ${r.stderr.trim().split('\n').find((l) => l.startsWith('sudo:'))?.replace(/^sudo: /, '')}): add "${user} ALL=(ALL) NOPASSWD:ALL" to /etc/sudoers.d/${user}, or connect as root`,
      );
    }
    return r;
  };
  const run = async (command: string, opts?: RemoteExecOptions) => {
    const r = await exec(command, opts);
    if (r.code !== 0) {
      const last = (r.stderr.trim() || r.stdout.trim()).split('\n').pop() ?? '';
      // The command's first line only: a script would make the message many lines long.
      throw new ProvisionError(`Command failed on the host (exit ${r.code}): ${command.split('\n')[0]!.slice(0, 120)}: ${last}`);
    }
    return r.stdout;
  };
  return {
    exec,
    run,
    async writeFile(path, data, mode = 0o644) {
      const dir = path.slice(0, path.lastIndexOf('/')) || '/';
      const tmp = `${path}.machine-tmp`;
      // umask first so a key never exists with wider permissions, even for an instant.
      await run(
        `umask 077 && mkdir -p ${shQuote(dir)} && cat > ${shQuote(tmp)} && chmod ${mode.toString(8)} ${shQuote(tmp)} && mv -f ${shQuote(tmp)} ${shQuote(path)}`,
        { stdin: data },
      );
    },
  };
}

export { shQuote };
