import { readFileSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import ssh2, { type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { HostKeyMismatchError } from '../errors.js';
import { SshAuthError, SshCommandError, SshUnreachableError } from './errors.js';
import { fingerprint } from './keys.js';
import { keyTypeOf, readPinned, writePinned, type HostKeyPolicy } from './known-hosts.js';

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  privateKeyPath?: string;
  password?: string;
}

export interface ConnectOptions {
  hostKey?: HostKeyPolicy;
  readyTimeoutMs?: number;
  debug?: (line: string) => void;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

const RETRYABLE = /ECONNREFUSED|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|Timed out while waiting for handshake|Connection lost before handshake|socket hang up|EPIPE/;

export function isRetryable(err: unknown): boolean {
  return err instanceof SshUnreachableError;
}

/** One SSH connection, reused for every command of a provisioning run. */
export class SshSession {
  private constructor(
    private readonly client: ssh2.Client,
    readonly target: SshTarget,
    private readonly debug: (line: string) => void,
  ) {}

  static connect(target: SshTarget, opts: ConnectOptions = {}): Promise<SshSession> {
    const debug = opts.debug ?? (() => undefined);
    const where = `${target.host}:${target.port}`;
    let privateKey: Buffer | undefined;
    if (target.privateKeyPath) {
      try {
        privateKey = readFileSync(target.privateKeyPath);
      } catch (err) {
        return Promise.reject(new SshAuthError(`Cannot read SSH key ${target.privateKeyPath}: ${(err as Error).message}`));
      }
    }
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      let hostKeyError: Error | undefined;
      let pinNeeded: { type: string; blob: Buffer } | undefined;
      const config: ConnectConfig = {
        host: target.host,
        port: target.port,
        username: target.user,
        readyTimeout: opts.readyTimeoutMs ?? 20_000,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        ...(privateKey ? { privateKey } : {}),
        ...(target.password ? { password: target.password } : {}),
        hostVerifier: (key: Buffer) => {
          const policy = opts.hostKey;
          if (!policy) return true;
          const pinned = readPinned(policy.knownHostsPath);
          if (!pinned) {
            pinNeeded = { type: keyTypeOf(key), blob: Buffer.from(key) };
            return true;
          }
          if (pinned.keyBlob.equals(key)) return true;
          hostKeyError = new HostKeyMismatchError(policy.machine, where, fingerprint(pinned.keyBlob), fingerprint(key));
          return false;
        },
      };
      debug(`ssh ${target.user}@${where}: connecting`);
      client.once('ready', () => {
        const session = new SshSession(client, target, debug);
        if (pinNeeded && opts.hostKey) {
          debug(`ssh ${where}: pinning host key ${fingerprint(pinNeeded.blob)} in ${opts.hostKey.knownHostsPath}`);
          writePinned(opts.hostKey.knownHostsPath, opts.hostKey.machine, pinNeeded.type, pinNeeded.blob).then(
            () => resolve(session),
            (err: Error) => {
              client.end();
              reject(err);
            },
          );
        } else {
          resolve(session);
        }
      });
      // `on`, not `once`: ssh2 can report a second error for the same failed connection
      // (QEMU's port forward accepts and then drops), and an unheard one would crash us.
      let failed = false;
      client.on('error', (err: Error & { level?: string }) => {
        if (failed) return;
        failed = true;
        client.end();
        if (hostKeyError) return reject(hostKeyError);
        if (err.level === 'client-authentication' || /authentication methods failed/i.test(err.message)) {
          return reject(
            new SshAuthError(
              `SSH authentication failed for ${target.user}@${where} with key ${target.privateKeyPath ?? '(none)'}: check that its public key is in ~${target.user}/.ssh/authorized_keys on the host`,
            ),
          );
        }
        if (RETRYABLE.test(err.message) || (err as NodeJS.ErrnoException).code) {
          return reject(new SshUnreachableError(`Cannot reach ${where} over SSH: ${err.message}`));
        }
        reject(new SshUnreachableError(`SSH connection to ${where} failed: ${err.message}`));
      });
      client.connect(config);
    });
  }

  private channel(command: string, pty = false): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, pty ? { pty: { term: process.env.TERM ?? 'xterm' } } : {}, (err, ch) => (err ? reject(err) : resolve(ch)));
    });
  }

  /** Runs a command; never throws on a non-zero exit. */
  async exec(command: string, opts: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    const started = Date.now();
    this.debug(`ssh ${this.target.user}@${this.target.host}:${this.target.port}: ${command.length > 400 ? command.slice(0, 400) + '…' : command}`);
    const ch = await this.channel(command);
    return new Promise((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      let code = -1;
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            ch.close();
            reject(new SshCommandError(`SSH command timed out after ${opts.timeoutMs} ms: ${command.slice(0, 120)}`, -1, stderr));
          }, opts.timeoutMs)
        : undefined;
      ch.on('data', (d: Buffer) => (stdout += d.toString()));
      ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      ch.on('exit', (c: number | null, signal?: string) => {
        code = c ?? (signal ? 128 : -1);
      });
      ch.on('close', () => {
        if (timer) clearTimeout(timer);
        this.debug(`  -> exit ${code} (${Date.now() - started} ms)`);
        resolve({ stdout, stderr, code });
      });
      ch.on('error', reject);
      if (opts.stdin !== undefined) ch.end(opts.stdin);
      else ch.end();
    });
  }

  /** Runs a command; throws SshCommandError on a non-zero exit. */
  async run(command: string, opts: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(command, opts);
    if (r.code !== 0) {
      const last = (r.stderr.trim() || r.stdout.trim()).split('\n').pop() ?? '';
      throw new SshCommandError(`SSH command failed (exit ${r.code}): ${command.slice(0, 120)}: ${last}`, r.code, r.stderr);
    }
    return r.stdout;
  }

  async writeFile(remotePath: string, data: string | Buffer, mode = 0o644, opts: { sudo?: boolean } = {}): Promise<void> {
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const cmd = `umask 077 && cat > ${q(remotePath)} && chmod ${mode.toString(8)} ${q(remotePath)}`;
    await this.run(opts.sudo ? `sudo -n sh -c ${q(cmd)}` : cmd, { stdin: data });
  }

  sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => this.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
  }

  async upload(localPath: string, remotePath: string, opts: { recursive?: boolean } = {}): Promise<void> {
    const sftp = await this.sftp();
    try {
      const st = await stat(localPath);
      if (st.isDirectory()) {
        if (!opts.recursive) throw new SshCommandError(`${localPath} is a directory (use -r)`, 1, '');
        // Like scp -r: an existing directory target receives the source directory inside it.
        const target = (await remoteIsDir(sftp, remotePath)) ? posix.join(remotePath, localPath.split('/').filter(Boolean).pop()!) : remotePath;
        await uploadDir(sftp, localPath, target);
      } else {
        const target = (await remoteIsDir(sftp, remotePath)) ? posix.join(remotePath, localPath.split('/').pop()!) : remotePath;
        await fastPut(sftp, localPath, target, st.mode & 0o777);
      }
      this.debug(`sftp put ${localPath} -> ${remotePath}`);
    } finally {
      sftp.end();
    }
  }

  async download(remotePath: string, localPath: string, opts: { recursive?: boolean } = {}): Promise<void> {
    const sftp = await this.sftp();
    try {
      const st = await sftpStat(sftp, remotePath);
      let target = localPath;
      const localIsDir = await stat(localPath).then((s) => s.isDirectory()).catch(() => false);
      if (localIsDir) target = join(localPath, posix.basename(remotePath));
      if (st.isDirectory()) {
        if (!opts.recursive) throw new SshCommandError(`${remotePath} is a directory (use -r)`, 1, '');
        await downloadDir(sftp, remotePath, target);
      } else {
        await new Promise<void>((res, rej) => sftp.fastGet(remotePath, target, (e) => (e ? rej(e) : res())));
      }
      this.debug(`sftp get ${remotePath} -> ${localPath}`);
    } finally {
      sftp.end();
    }
  }

  /** A command or a login shell with a pty when stdin is a terminal; resolves with the exit code. */
  async interactive(
    command: string | undefined,
    io: { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream },
  ): Promise<number> {
    const tty = Boolean(io.stdin.isTTY);
    const ch: ClientChannel = command
      ? await this.channel(command, tty)
      : await new Promise((resolve, reject) =>
          this.client.shell({ term: process.env.TERM ?? 'xterm', cols: io.stdout.columns ?? 80, rows: io.stdout.rows ?? 24 }, (err, c) =>
            err ? reject(err) : resolve(c),
          ),
        );
    if (tty) io.stdin.setRawMode(true);
    io.stdin.pipe(ch);
    ch.pipe(io.stdout);
    ch.stderr.pipe(io.stderr);
    return new Promise((resolve) => {
      let code = 0;
      ch.on('exit', (c: number | null) => (code = c ?? 0));
      ch.on('close', () => {
        io.stdin.unpipe(ch);
        if (tty) io.stdin.setRawMode(false);
        io.stdin.pause();
        resolve(code);
      });
    });
  }

  close(): void {
    this.client.end();
  }
}

function sftpStat(sftp: SFTPWrapper, path: string): Promise<ssh2.Stats> {
  return new Promise((res, rej) => sftp.stat(path, (e, s) => (e ? rej(e) : res(s))));
}
async function remoteIsDir(sftp: SFTPWrapper, path: string): Promise<boolean> {
  return sftpStat(sftp, path).then((s) => s.isDirectory()).catch(() => false);
}
function fastPut(sftp: SFTPWrapper, local: string, remote: string, mode: number): Promise<void> {
  return new Promise((res, rej) => sftp.fastPut(local, remote, { mode }, (e) => (e ? rej(e) : res())));
}
async function uploadDir(sftp: SFTPWrapper, local: string, remote: string): Promise<void> {
  await new Promise<void>((res) => sftp.mkdir(remote, () => res()));
  for (const e of await readdir(local, { withFileTypes: true })) {
    const l = join(local, e.name);
    const r = posix.join(remote, e.name);
    if (e.isDirectory()) await uploadDir(sftp, l, r);
    else if (e.isFile()) await fastPut(sftp, l, r, (await stat(l)).mode & 0o777);
  }
}
async function downloadDir(sftp: SFTPWrapper, remote: string, local: string): Promise<void> {
  await mkdir(local, { recursive: true });
  const list = await new Promise<ssh2.FileEntryWithStats[]>((res, rej) => sftp.readdir(remote, (e, l) => (e ? rej(e) : res(l))));
  for (const e of list) {
    const r = posix.join(remote, e.filename);
    const l = join(local, e.filename);
    if (e.attrs.isDirectory()) await downloadDir(sftp, r, l);
    else await new Promise<void>((res, rej) => sftp.fastGet(r, l, (err) => (err ? rej(err) : res())));
  }
}
