import { setTimeout as sleep } from 'node:timers/promises';
import { where } from './classify.js';
import { SshAuthError, SshUnreachableError } from './errors.js';
import { SshSession, type ConnectOptions, type SshTarget } from './session.js';

export interface WaitOptions extends ConnectOptions {
  timeoutMs: number;
  onAttempt?: (n: number, err: Error) => void;
  /**
   * Authentication failures are final, except during this window after the start: some hosts
   * (cloud-init) answer SSH before our key is installed. 0 unless a driver knows better.
   */
  authSettleMs?: number;
  /** Delay between attempts: initialMs while the first steadyMs last, then doubling up to maxMs. */
  backoff?: { initialMs?: number; steadyMs?: number; maxMs?: number };
}

/**
 * Connects once SSH answers, retrying refused, reset and timed-out connections until the
 * deadline: every 100 ms for the first 3 s (a container's sshd is up within a second or two
 * of its start, and each moment slept after that is added to the create), then backing off to
 * every 500 ms (a VM boots for longer, and a refused connection costs next to nothing either
 * way). Authentication and host-key failures are final at once.
 */
export async function waitForSsh(target: SshTarget, opts: WaitOptions): Promise<SshSession> {
  const start = Date.now();
  const deadline = start + opts.timeoutMs;
  let delay = 0;
  let last: Error | undefined;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      return await SshSession.connect(target, { ...opts, readyTimeoutMs: Math.min(opts.readyTimeoutMs ?? 20_000, left) });
    } catch (err) {
      opts.signal?.throwIfAborted();
      const settling = err instanceof SshAuthError && Date.now() < start + (opts.authSettleMs ?? 0);
      if (!(err instanceof SshUnreachableError) && !settling) throw err;
      last = err as Error;
      opts.onAttempt?.(attempt, last);
    }
    delay = retryDelay(Date.now() - start, delay, opts.backoff);
    const pause = Math.min(delay, deadline - Date.now());
    if (pause <= 0) break;
    await sleep(pause, undefined, opts.signal ? { signal: opts.signal } : {}).catch((err: unknown) => {
      opts.signal?.throwIfAborted();
      throw err;
    });
  }
  throw new SshUnreachableError(
    `Cannot reach ${where(target)} over SSH within ${formatSeconds(opts.timeoutMs)}` +
      `${last ? ` (last error: ${last.message.replace(/^Cannot reach \S+ over SSH: /, '')})` : ''}: check the address, port and firewall`,
    { cause: last },
  );
}

/** The pause before the next attempt, `elapsed` ms into the wait, after a pause of `previous` (0 at first). */
export function retryDelay(elapsed: number, previous: number, backoff: WaitOptions['backoff'] = {}): number {
  const initial = backoff.initialMs ?? 100;
  if (previous === 0 || elapsed < (backoff.steadyMs ?? 3_000)) return initial;
  return Math.min(previous * 2, backoff.maxMs ?? 500);
}

function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 1000)} s`;
}
