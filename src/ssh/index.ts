export { SshSession, type ConnectOptions, type ExecOptions, type ExecResult, type SshTarget } from './session.js';
export { waitForSsh, type WaitOptions } from './wait.js';
export { fingerprint, generateKeyPair, readPublicKey } from './keys.js';
export { checkHostKey, hostAlias, keyTypeOf, readPinned, resetPinned, writePinned, type HostKeyPolicy, type PinnedKey } from './known-hosts.js';
export { buildScpArgs, buildSshArgs, findSystemSsh, scpRemote, sshOptions, type SystemSshOptions } from './system-ssh.js';
export type { TerminalIo } from './terminal.js';
export { SshAuthError, SshCommandError, SshDisconnectedError, SshUnreachableError } from './errors.js';
