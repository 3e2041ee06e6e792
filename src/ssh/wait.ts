import { SshSession, isRetryable, type ConnectOptions, type SshTarget } from './session.js';
import { SshAuthError, SshUnreachableError } from './errors.js';

/**
 * Connects once SSH answers: exponential backoff on refused/timed-out connections until the
 * deadline; authentication and host-key failures are final at once.
 */
export async function waitForSsh(
  target: SshTarget,
  opts: ConnectOptions & {
    timeoutMs: number;
    signal?: AbortSignal;
    onAttempt?: (n: number, err: Error) => void;
    /** Authentication failures are retried this long (a key still being installed at boot). */
    authSettleMs?: number;
  },
): Promise<SshSession> {
  const authUntil = Date.now() + (opts.authSettleMs ?? 0);
  const deadline = Date.now() + opts.timeoutMs;
  let delay = 100;
  let last: Error | undefined;
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now();
    try {
      return await SshSession.connect(target, { ...opts, readyTimeoutMs: Math.max(1000, Math.min(opts.readyTimeoutMs ?? 20_000, left)) });
    } catch (err) {
      if (!isRetryable(err) && !(err instanceof SshAuthError && Date.now() < authUntil)) throw err;
      last = err as Error;
      opts.onAttempt?.(attempt, last);
    }
    if (opts.signal?.aborted || Date.now() + delay > deadline) break;
    await new Promise((r) => setTimeout(r, delay));
    // Capped low: a refused connection costs nothing, and a late retry adds up to the cap.
    delay = Math.min(delay * 1.5, 500);
  }
  throw new SshUnreachableError(
    `Cannot reach ${target.host}:${target.port} over SSH within ${Math.round(opts.timeoutMs / 1000)} s (${last?.message ?? 'no answer'}): check the address, port and firewall`,
  );
}
