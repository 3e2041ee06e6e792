import { ProvisionError } from '../errors.js';
import { shQuote } from '../sys/shell-quote.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** The little a provisioner needs of a host: run a command as root, write a file as root. */
export interface Remote {
  exec(command: string, opts?: { stdin?: string | Buffer; timeoutMs?: number }): Promise<ExecResult>;
  run(command: string, opts?: { stdin?: string | Buffer; timeoutMs?: number }): Promise<string>;
  writeFile(path: string, data: string | Buffer, mode?: number): Promise<void>;
}

/** What an SSH session offers (src/ssh's SshSession satisfies it). */
export interface CommandRunner {
  exec(command: string, opts?: { stdin?: string | Buffer; timeoutMs?: number }): Promise<ExecResult>;
}

/**
 * Runs everything through `sudo -n sh -c` unless the SSH user is root, so the provisioner
 * is written once for both.
 */
export function rootRemote(runner: CommandRunner, user: string): Remote {
  const wrap = (command: string) => (user === 'root' ? command : `sudo -n sh -c ${shQuote(command)}`);
  const exec = (command: string, opts?: { stdin?: string | Buffer; timeoutMs?: number }) =>
    runner.exec(wrap(command), opts);
  const run = async (command: string, opts?: { stdin?: string | Buffer; timeoutMs?: number }) => {
    const r = await exec(command, opts);
    if (r.code !== 0) {
      const last = (r.stderr.trim() || r.stdout.trim()).split('\n').pop() ?? '';
      throw new ProvisionError(`Command failed on the host (exit ${r.code}): ${command.slice(0, 120)}: ${last}`);
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
