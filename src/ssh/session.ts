import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import ssh2, { type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm, type SFTPWrapper } from 'ssh2';
import { SshError } from '../errors.js';
import { classifyConnectError, where } from './classify.js';
import { SshAuthError, SshCommandError, SshDisconnectedError, SshUnreachableError } from './errors.js';
import { fingerprint } from './keys.js';
import { checkHostKey, hostKeyAlgorithms, keyTypeOf, readPinned, writePinned, type HostKeyPolicy } from './known-hosts.js';
import { Slots } from './slots.js';
import { attachTerminal, exitCode, ptyOptions, wantsPty, type TerminalIo } from './terminal.js';
import { downloadPath, uploadPath } from './transfer.js';
import { shQuote } from '../sys/shell-quote.js';

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
  /** Abandons the connection attempt; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
  /** Set when the command was killed by a signal, e.g. 'SIGKILL' (code is then 128 + its number). */
  signal?: string;
}

export interface ExecOptions {
  stdin?: string | Buffer;
  timeoutMs?: number;
  /** Each whole line of stdout as it comes (progress of a long install). */
  onLine?: (line: string) => void;
  /**
   * A second message on the same channel: stdin stays open after `stdin`, and once stdout
   * shows `marker` on a line of its own, what `reply` makes of the output before it is
   * written and stdin closed. One command instead of two, each of which costs sshd a
   * session (about 70 ms on a container host).
   */
  dialogue?: { marker: string; reply: (before: string) => Promise<string | Buffer> };
}

// sshd allows 10 sessions per connection (MaxSessions); more at once fail to open, so callers
// that fan out commands over one session queue here instead.
const MAX_CHANNELS = 8;

/** One authenticated SSH connection, reused for every command of a provisioning run. */
export class SshSession {
  private readonly slots = new Slots(MAX_CHANNELS);
  private lost: Error | undefined;

  private constructor(
    private readonly client: ssh2.Client,
    readonly target: SshTarget,
    private readonly debug: (line: string) => void,
  ) {
    // An unheard 'error' would crash the process; the next command reports the loss instead.
    client.on('error', (err: Error) => {
      this.lost ??= err;
      debug(`${this.prefix} connection error: ${err.message}`);
    });
    client.on('close', () => (this.lost ??= new Error('connection closed')));
  }

  private get prefix(): string {
    return `ssh ${this.target.user}@${where(this.target)}:`;
  }

  static async connect(target: SshTarget, opts: ConnectOptions = {}): Promise<SshSession> {
    checkTarget(target);
    opts.signal?.throwIfAborted();
    const privateKey = target.privateKeyPath ? await loadPrivateKey(target.privateKeyPath) : undefined;
    const debug = opts.debug ?? (() => undefined);
    const endpoint = where(target);
    const policy = opts.hostKey;
    const algorithms = policy ? hostKeyAlgorithms(readPinned(policy.knownHostsPath, policy.machine)) : undefined;

    return new Promise<SshSession>((resolve, reject) => {
      const client = new ssh2.Client();
      let settled = false;
      let refused: Error | undefined;
      let toPin: Buffer | undefined;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        opts.signal?.removeEventListener('abort', onAbort);
        client.removeAllListeners('ready');
        // Not end(): before the handshake it waits for a server that may never answer, and
        // keeps the process alive until readyTimeout (an interrupted create exits late).
        client.destroy();
        reject(err);
      };
      const onAbort = () => fail(opts.signal?.reason instanceof Error ? opts.signal.reason : new SshError('SSH connection aborted'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });

      const config: ConnectConfig = {
        host: target.host,
        port: target.port,
        username: target.user,
        readyTimeout: opts.readyTimeoutMs ?? 20_000,
        // A host that vanishes (VM killed, network gone) is noticed in about a minute.
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        ...(privateKey ? { privateKey } : {}),
        ...(target.password ? { password: target.password } : {}),
        // Straight to the methods we hold: ssh2 otherwise asks "none" first, a round trip
        // to sshd that every login paid (about 50 ms on a container host).
        ...(privateKey || target.password ? { authHandler: [...(privateKey ? ['publickey' as const] : []), ...(target.password ? ['password' as const] : [])] } : {}),
        ...(algorithms ? { algorithms: { serverHostKey: algorithms as ServerHostKeyAlgorithm[] } } : {}),
        hostVerifier: (key: Buffer): boolean => {
          if (!policy) return true;
          try {
            if (checkHostKey(policy, endpoint, key) === 'pin') toPin = Buffer.from(key);
            return true;
          } catch (err) {
            refused = err as Error;
            return false;
          }
        },
      };

      debug(`ssh ${target.user}@${endpoint}: connecting`);
      client.once('ready', () => {
        if (settled) return;
        const session = new SshSession(client, target, debug);
        // Pinned only once the host has also accepted our key: an impostor that cannot
        // authenticate us should not get its key recorded.
        const pinned = policy && toPin ? writePinned(policy.knownHostsPath, policy.machine, keyTypeOf(toPin), toPin) : undefined;
        if (policy && toPin) debug(`ssh ${endpoint}: pinning host key ${fingerprint(toPin)} in ${policy.knownHostsPath}`);
        void Promise.resolve(pinned).then(
          () => {
            if (settled) return session.close();
            settled = true;
            opts.signal?.removeEventListener('abort', onAbort);
            resolve(session);
          },
          (err: Error) => fail(new SshError(`Cannot record the SSH host key in ${policy?.knownHostsPath}: ${err.message}`, { cause: err })),
        );
      });
      // `on`, not `once`: ssh2 can report a second error for one failed connection (a port
      // forward that accepts and then drops), and an unheard one would crash the process.
      client.on('error', (err: Error) => fail(refused ?? classifyConnectError(err, target)));
      client.on('close', () => fail(refused ?? new SshUnreachableError(`Cannot reach ${endpoint} over SSH: connection closed before login`)));
      try {
        client.connect(config);
        // Nagle off, before the socket connects: ssh2 leaves it on, and then each small packet
        // after an unacknowledged one (a key exchange step, a channel request, a dialogue's
        // reply) waits for the host's delayed ACK, 40 ms on Linux. A login and a provisioning
        // dialogue took a quarter of a second longer for it.
        client.setNoDelay(true);
      } catch (err) {
        fail(new SshError(`SSH connection to ${endpoint} failed: ${(err as Error).message}`, { cause: err }));
      }
    });
  }

  /**
   * The host key the server offers, without logging in: the handshake stops at the key, so
   * nothing is asked of the user and no session is opened. `pinned` narrows the algorithms to
   * the pinned key's type, as a real connection would negotiate.
   */
  static async offeredHostKey(target: SshTarget, opts: { knownHostsPath?: string; machine?: string; readyTimeoutMs?: number; debug?: (l: string) => void } = {}): Promise<Buffer> {
    checkTarget(target);
    const algorithms = opts.knownHostsPath && opts.machine ? hostKeyAlgorithms(readPinned(opts.knownHostsPath, opts.machine)) : undefined;
    return new Promise<Buffer>((resolve, reject) => {
      const client = new ssh2.Client();
      let offered: Buffer | undefined;
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        client.end();
        if (offered) resolve(offered);
        else reject(err ?? new SshUnreachableError(`Cannot reach ${where(target)} over SSH: no host key offered`));
      };
      client.on('error', (err: Error) => finish(classifyConnectError(err, target)));
      client.on('close', () => finish());
      client.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        readyTimeout: opts.readyTimeoutMs ?? 10_000,
        ...(algorithms ? { algorithms: { serverHostKey: algorithms as ServerHostKeyAlgorithm[] } } : {}),
        hostVerifier: (key: Buffer): boolean => {
          offered = Buffer.from(key);
          opts.debug?.(`ssh ${where(target)}: offers host key ${fingerprint(offered)}`);
          return false;
        },
      });
      client.setNoDelay(true);
    });
  }

  /** Runs a command; a non-zero exit is a result, not an error. */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.debug(`${this.prefix} ${command}`);
    const started = Date.now();
    const release = await this.slots.acquire();
    try {
      const result = await this.open<ClientChannel, Promise<ExecResult>>(
        command,
        (cb) => this.client.exec(command, cb),
        (ch) => collect(ch, command, opts, () => this.lost),
      );
      this.debug(`${this.prefix} exit ${result.code}${result.signal ? ` (${result.signal})` : ''} in ${Date.now() - started} ms`);
      return result;
    } catch (err) {
      this.debug(`${this.prefix} failed after ${Date.now() - started} ms: ${(err as Error).message}`);
      throw err;
    } finally {
      release();
    }
  }

  /** Runs a command and returns its stdout; a non-zero exit throws SshCommandError. */
  async run(command: string, opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(command, opts);
    if (r.code !== 0) {
      const last = (r.stderr.trim() || r.stdout.trim()).split('\n').pop() ?? '';
      throw new SshCommandError(`SSH command failed (exit ${r.code}): ${command.slice(0, 120)}: ${last}`, r.code, r.stderr);
    }
    return r.stdout;
  }

  /**
   * Writes a file through the shell (so `sudo` can write where the user cannot). It appears
   * whole or not at all: a dropped connection leaves no half-written config behind.
   */
  async writeFile(remotePath: string, data: string | Buffer, mode = 0o644, opts: { sudo?: boolean } = {}): Promise<void> {
    const tmp = `${remotePath}.machine-${randomBytes(4).toString('hex')}`;
    const script =
      `umask 077 && cat > ${shQuote(tmp)} && chmod ${mode.toString(8)} ${shQuote(tmp)} && mv -f ${shQuote(tmp)} ${shQuote(remotePath)}` +
      ` || { rc=$?; rm -f ${shQuote(tmp)}; exit $rc; }`;
    // sh -c whatever the login shell is; umask first so a key is never readable, even for an instant.
    await this.run(`${opts.sudo ? 'sudo -n ' : ''}sh -c ${shQuote(script)}`, { stdin: data });
  }

  /** An SFTP client on this connection; end() it when done. */
  async sftp(): Promise<SFTPWrapper> {
    const release = await this.slots.acquire();
    try {
      const sftp = await this.open<SFTPWrapper>('sftp', (cb) => this.client.sftp(cb));
      sftp.once('close', release);
      return sftp;
    } catch (err) {
      release();
      throw err;
    }
  }

  async upload(localPath: string, remotePath: string, opts: { recursive?: boolean } = {}): Promise<void> {
    this.debug(`${this.prefix} sftp put ${localPath} -> ${remotePath}`);
    await this.withSftp((sftp) => uploadPath(sftp, localPath, remotePath, opts.recursive ?? false));
  }

  async download(remotePath: string, localPath: string, opts: { recursive?: boolean } = {}): Promise<void> {
    this.debug(`${this.prefix} sftp get ${remotePath} -> ${localPath}`);
    await this.withSftp((sftp) => downloadPath(sftp, remotePath, localPath, opts.recursive ?? false));
  }

  /** A login shell, interactive when stdin is a terminal; resolves with its exit code. */
  async shell(io: TerminalIo): Promise<number> {
    return this.interactive(undefined, io);
  }

  /** `command` (or a login shell) wired to the user's terminal, as `ssh host [command]` does. */
  async interactive(command: string | undefined, io: TerminalIo): Promise<number> {
    const pty = wantsPty(io);
    this.debug(`${this.prefix} ${command ?? '(login shell)'}${pty ? ' [pty]' : ''}`);
    const release = await this.slots.acquire();
    try {
      const code = await this.open<ClientChannel, Promise<number>>(
        command ?? 'shell',
        (cb) => (command === undefined ? this.client.shell(pty ? ptyOptions(io) : false, cb) : this.client.exec(command, pty ? { pty: ptyOptions(io) } : {}, cb)),
        (ch) => attachTerminal(ch, io, pty),
      );
      this.debug(`${this.prefix} exit ${code}`);
      return code;
    } finally {
      release();
    }
  }

  close(): void {
    this.client.end();
  }

  /**
   * A TCP connection to host:port as the machine sees it (a direct-tcpip channel), for port
   * forwarding. Not counted against the command slots: forwards live long and sshd limits
   * sessions, not these.
   */
  async forwardOut(host: string, port: number): Promise<ClientChannel> {
    this.debug(`${this.prefix} forward to ${host}:${port}`);
    return this.open<ClientChannel>(`a forward to ${host}:${port}`, (cb) => this.client.forwardOut('127.0.0.1', 0, host, port, cb));
  }

  /** Resolves with why, once the connection is gone (the machine stopped, the network went). */
  whenLost(): Promise<Error> {
    if (this.lost) return Promise.resolve(this.lost);
    return new Promise((resolve) => this.client.once('close', () => resolve(this.lost ?? new Error('connection closed'))));
  }

  private async withSftp(fn: (sftp: SFTPWrapper) => Promise<void>): Promise<void> {
    const sftp = await this.sftp();
    try {
      await fn(sftp);
    } catch (err) {
      throw this.lost ? new SshDisconnectedError(`SSH connection to ${where(this.target)} lost during a copy: ${this.lost.message}`, { cause: err }) : err;
    } finally {
      sftp.end();
    }
  }

  /**
   * Opens a channel. `attach` runs in ssh2's callback itself, not a promise turn later: a
   * fast command's exit status can come in the same read as the channel's confirmation, and
   * ssh2 emits it while still in that read, so a listener added later misses it (seen under
   * load as "the channel closed without an exit status").
   */
  private open<T, R = T>(what: string, start: (cb: (err: Error | undefined, ch: T) => void) => void, attach?: (ch: T) => R): Promise<R> {
    const lost = (detail: string) =>
      new SshDisconnectedError(`SSH connection to ${where(this.target)} lost, cannot run ${what.slice(0, 120)}: ${detail}`);
    if (this.lost) return Promise.reject(lost(this.lost.message));
    return new Promise((resolve, reject) => {
      try {
        start((err, ch) => {
          if (err) return reject(this.lost ? lost(err.message) : new SshError(`Cannot open an SSH channel for ${what.slice(0, 120)}: ${err.message}`, { cause: err }));
          try {
            resolve(attach ? attach(ch) : (ch as unknown as R));
          } catch (e) {
            reject(e);
          }
        });
      } catch (err) {
        reject(lost((err as Error).message));
      }
    });
  }
}

function checkTarget(t: SshTarget): void {
  if (!t.host || t.host.startsWith('-')) throw new SshError(`Invalid SSH host "${t.host}"`);
  if (!t.user || t.user.startsWith('-')) throw new SshError(`Invalid SSH user "${t.user}"`);
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new SshError(`Invalid SSH port ${t.port} for ${t.host}`);
}

async function loadPrivateKey(path: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw new SshAuthError(`Cannot read SSH key ${path}: ${(err as Error).message}`, { cause: err });
  }
  // Checked here so a bad key is one clear line, not an exception from inside ssh2.
  const parsed = ssh2.utils.parseKey(data);
  if (parsed instanceof Error) {
    const hint = /passphrase/i.test(parsed.message) ? ' (keys protected by a passphrase are not supported)' : '';
    throw new SshAuthError(`Cannot use SSH key ${path}: ${parsed.message}${hint}`);
  }
  return data;
}

function collect(ch: ClientChannel, command: string, opts: ExecOptions, lost: () => Error | undefined): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let exit: { code: number | null; signal?: string } | undefined;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      fn();
    };
    // Reported at once: sshd neither forwards a signal once stdin is closed nor kills a command
    // without a pty when its channel closes, so the command may run on by itself.
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          settle(() =>
            reject(new SshCommandError(`SSH command timed out after ${opts.timeoutMs} ms: ${command.slice(0, 120)}`, -1, Buffer.concat(err).toString('utf8'))),
          );
          ch.close();
        }, opts.timeoutMs)
      : undefined;
    // Decoded once at the end: a chunk boundary may split a multi-byte character.
    let partial = '';
    let awaiting = opts.dialogue;
    ch.on('data', (d: Buffer) => {
      out.push(d);
      if (awaiting) {
        const text = Buffer.concat(out).toString('utf8');
        const at = text.startsWith(`${awaiting.marker}\n`) ? 0 : text.indexOf(`\n${awaiting.marker}\n`);
        if (at >= 0) {
          const { reply } = awaiting;
          awaiting = undefined;
          reply(text.slice(0, at === 0 ? 0 : at + 1)).then(
            (data) => ch.end(data),
            (err: Error) => {
              settle(() => reject(err));
              ch.close();
            },
          );
        }
      }
      if (!opts.onLine) return;
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) opts.onLine(l);
    });
    ch.stderr.on('data', (d: Buffer) => err.push(d));
    ch.on('exit', (code: number | null, signal?: string) => (exit = { code, ...(signal ? { signal } : {}) }));
    ch.on('error', (e: Error) => settle(() => reject(new SshError(`SSH command failed: ${command.slice(0, 120)}: ${e.message}`, { cause: e }))));
    const stderrEnded = new Promise((r) => (ch.stderr.readableEnded ? r(undefined) : ch.stderr.once('end', r)));
    ch.once('close', () => {
      // A dropped connection closes its channels before the client hears of it: a turn of
      // the event loop lets lost() name the real cause.
      void stderrEnded.then(() => new Promise((r) => setImmediate(r))).then(() =>
        settle(() => {
          if (!exit) {
            const why = lost()?.message ?? 'the channel closed without an exit status';
            return reject(new SshDisconnectedError(`SSH connection lost while running: ${command.slice(0, 120)}: ${why}`));
          }
          const stdout = Buffer.concat(out).toString('utf8');
          const stderr = Buffer.concat(err).toString('utf8');
          resolve({ stdout, stderr, code: exitCode(exit.code, exit.signal), ...(exit.signal ? { signal: exit.signal } : {}) });
        }),
      );
    });
    if (opts.dialogue) ch.write(opts.stdin ?? '');
    else if (opts.stdin !== undefined) ch.end(opts.stdin);
    else ch.end();
  });
}


