import { execFile } from 'node:child_process';
import { isExecutable } from '../../sys/which.js';
import { delimiter, join } from 'node:path';
import { DriverError } from '../../errors.js';

const EXE = process.platform === 'win32' ? 'VBoxManage.exe' : 'VBoxManage';

/** Where VBoxManage lives: PATH, then the installers' variables, then the usual install folders. */
export function vboxManageCandidates(env: NodeJS.ProcessEnv = process.env, os = process.platform): string[] {
  const dirs = (env['PATH'] ?? '').split(delimiter).filter(Boolean);
  for (const v of ['VBOX_INSTALL_PATH', 'VBOX_MSI_INSTALL_PATH']) {
    for (const d of (env[v] ?? '').split(delimiter).filter(Boolean)) dirs.push(d);
  }
  if (os === 'darwin') dirs.push('/Applications/VirtualBox.app/Contents/MacOS', '/usr/local/bin');
  if (os === 'win32') dirs.push(join(env['ProgramFiles'] ?? 'C:\\Program Files', 'Oracle', 'VirtualBox'));
  if (os === 'linux') dirs.push('/usr/bin', '/usr/lib/virtualbox');
  return [...new Set(dirs.map((d) => join(d, EXE)))];
}

export function installHint(os = process.platform): string {
  if (os === 'darwin') return 'install VirtualBox from https://www.virtualbox.org/wiki/Downloads or with "brew install --cask virtualbox"';
  if (os === 'win32') return 'install VirtualBox from https://www.virtualbox.org/wiki/Downloads, or set VBOX_MSI_INSTALL_PATH to its folder';
  return 'install VirtualBox (Debian/Ubuntu: the virtualbox-7.1 package from download.virtualbox.org; Fedora: VirtualBox-7.1), or put VBoxManage on the PATH';
}

export class VBoxManageNotFoundError extends DriverError {
  constructor() {
    super(`VBoxManage not found: ${installHint()}`);
  }
}

/** A failed VBoxManage call: the message is VBoxManage's own first "error:" line. */
export class VBoxManageError extends DriverError {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly code: number,
  ) {
    super(`VBoxManage ${args[0] ?? ''} failed: ${firstError(stderr) || `exit status ${code}`}`);
  }
  get notFound(): boolean {
    return /VBOX_E_OBJECT_NOT_FOUND|Could not find a registered machine/.test(this.stderr);
  }
}

export function firstError(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim());
  const err = lines.find((l) => /^VBoxManage(\.exe)?: error: /.test(l) && !/^VBoxManage(\.exe)?: error: (Details|Context):/.test(l));
  return (err ?? lines.find(Boolean) ?? '').replace(/^VBoxManage(\.exe)?: error: /, '');
}

export interface VBoxManage {
  readonly path: string;
  run(args: string[], opts?: { stdin?: Buffer; timeoutMs?: number }): Promise<string>;
}

export function findVBoxManage(): string {
  const found = vboxManageCandidates().find((p) => isExecutable(p));
  if (!found) throw new VBoxManageNotFoundError();
  return found;
}

/** Runs VBoxManage; every call shows with --debug. */
export function vboxManage(debug: (line: string) => void, path = findVBoxManage()): VBoxManage {
  return {
    path,
    run(args, opts = {}) {
      debug(`COMMAND: ${path} ${args.join(' ')}`);
      return new Promise((resolve, reject) => {
        const child = execFile(
          path,
          args,
          { maxBuffer: 64 * 2 ** 20, timeout: opts.timeoutMs ?? 10 * 60_000, windowsHide: true },
          (err, stdout, stderr) => {
            if (stdout.trim()) debug(`STDOUT: ${stdout.trimEnd()}`);
            if (stderr.trim()) debug(`STDERR: ${stderr.trimEnd()}`);
            if (!err) return resolve(stdout);
            const e = err as NodeJS.ErrnoException & { code?: number | string };
            if (e.code === 'ENOENT') return reject(new VBoxManageNotFoundError());
            reject(new VBoxManageError(args, stderr, typeof e.code === 'number' ? e.code : 1));
          },
        );
        if (opts.stdin) child.stdin?.end(opts.stdin);
        else child.stdin?.end();
      });
    },
  };
}
