import { SshError } from '../errors.js';

/** Nothing answered at host:port, or it hung up before the handshake: worth retrying while a host boots. */
export class SshUnreachableError extends SshError {}

/** The host answered but refused our key (or the key could not be used at all): retrying will not help. */
export class SshAuthError extends SshError {}

/** The command ran and failed; `code` is its exit status (-1 when it timed out). */
export class SshCommandError extends SshError {
  constructor(
    message: string,
    readonly code: number,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** An established connection dropped while a command or transfer was using it. */
export class SshDisconnectedError extends SshError {}
