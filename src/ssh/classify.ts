import { SshError } from '../errors.js';
import { SshAuthError, SshUnreachableError } from './errors.js';

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  privateKeyPath?: string;
  password?: string;
}

// What a booting or rebooting host looks like from outside: nothing listening yet, packets
// dropped, sshd restarting mid-handshake, the address or its name not there yet.
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const UNREACHABLE_MESSAGES = /Timed out while waiting for handshake|Connection lost before handshake|socket hang up|Keepalive timeout/;

export function where(t: Endpoint): string {
  return `${t.host}:${t.port}`;
}

function credential(t: Endpoint): string {
  if (t.privateKeyPath) return `key ${t.privateKeyPath}`;
  return t.password ? 'password' : 'no key or password';
}

/** Turns an ssh2 connection failure into the typed error the user sees (and waitForSsh retries on). */
export function classifyConnectError(err: Error & { level?: string; code?: string }, t: Endpoint): SshError {
  if (err instanceof SshError) return err;
  if (err.level === 'client-authentication' || /authentication methods failed/i.test(err.message)) {
    const hint = t.privateKeyPath
      ? `check the key, and that its public key is in ~${t.user}/.ssh/authorized_keys on the host`
      : 'check the user and credentials';
    return new SshAuthError(`SSH authentication failed for ${t.user}@${where(t)} with ${credential(t)}: ${hint}`, { cause: err });
  }
  if ((err.code && UNREACHABLE_CODES.has(err.code)) || UNREACHABLE_MESSAGES.test(err.message)) {
    return new SshUnreachableError(`Cannot reach ${where(t)} over SSH: ${err.message}`, { cause: err });
  }
  return new SshError(`SSH connection to ${where(t)} failed: ${err.message}`, { cause: err });
}
