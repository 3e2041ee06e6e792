import { SshError } from '../errors.js';

export class SshUnreachableError extends SshError {}
export class SshAuthError extends SshError {}
export class SshCommandError extends SshError {
  constructor(
    message: string,
    readonly code: number,
    readonly stderr: string,
  ) {
    super(message);
  }
}
