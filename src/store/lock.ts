import { mkdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { MachineError } from '../errors.js';

// A create can hold a machine's lock for minutes; waiters give up after 20 minutes.
const WAIT_LIMIT_MS = 20 * 60_000;
// Waits shorter than this are two parallel commands taking turns: not worth a line.
const ANNOUNCE_AFTER_MS = 1_000;
// proper-lockfile refreshes a held lock's mtime; one not refreshed for this long is stale
// (a holder that hangs, or one on another computer sharing the store).
const STALE_MS = 30_000;

export interface LockOptions {
  /** Told once, when the lock is busy: what is waited for and who holds it. */
  onWait?: (message: string) => void;
}

interface Owner {
  pid: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    const o = JSON.parse(await readFile(path, 'utf8')) as Owner;
    return Number.isInteger(o.pid) ? o : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs fn holding `.locks/NAME` (proper-lockfile's `NAME.lock` folder), with the holder's pid
 * in `NAME.owner` beside it. A waiter says once whom it waits for (after a second: shorter
 * waits are parallel commands taking turns); a lock whose holder
 * crashed (its pid is gone) is taken over at once, by marking it stale for proper-lockfile,
 * which settles races between waiters. Nothing is left in .locks/ once released.
 */
export async function withFileLock<T>(lockDir: string, name: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  await mkdir(lockDir, { recursive: true, mode: 0o700 });
  const target = join(lockDir, name);
  const ownerPath = `${target}.owner`;
  const label = name === '.certs' ? "the store's certificates" : name.startsWith('.') ? `the store's ${name.replace(/^\.(shared-)?/, '')}` : name;
  const started = Date.now();
  const deadline = started + WAIT_LIMIT_MS;
  let announced = false;
  let delay = 50;
  let release: () => Promise<void>;
  for (;;) {
    try {
      release = await lockfile.lock(target, { retries: 0, stale: STALE_MS, realpath: false });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw new MachineError(`Cannot lock machine "${name}" in ${lockDir}: ${(err as Error).message}`);
    }
    const owner = await readOwner(ownerPath);
    if (owner && !alive(owner.pid)) {
      // The holder crashed. One waiter claims its record by renaming it (the others find it
      // gone) and ages the lock past staleness, so that the next attempt takes it over.
      const claim = `${ownerPath}.${process.pid}.takeover`;
      if (await rename(ownerPath, claim).then(() => true, () => false)) {
        const claimed = await readOwner(claim);
        if (claimed && !alive(claimed.pid)) {
          const old = new Date(Date.now() - 10 * STALE_MS);
          await utimes(`${target}.lock`, old, old).catch(() => undefined);
          await rm(claim, { force: true });
        } else {
          // A live holder wrote its record meanwhile: put it back.
          await rename(claim, ownerPath).catch(() => undefined);
        }
      }
      continue;
    }
    if (!announced && Date.now() - started >= ANNOUNCE_AFTER_MS) {
      opts.onWait?.(`Waiting for another machine command on ${label}${owner ? ` (pid ${owner.pid})` : ''}...`);
      announced = true;
    }
    if (Date.now() > deadline) {
      throw new MachineError(`Gave up after ${WAIT_LIMIT_MS / 60_000} minutes waiting for another machine command on ${label}${owner ? ` (pid ${owner.pid})` : ''}: end it, or remove ${target}.lock if no such command runs`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 1.3, 1000);
  }
  await writeFile(ownerPath, JSON.stringify({ pid: process.pid }), { mode: 0o600 });
  try {
    return await fn();
  } finally {
    await rm(ownerPath, { force: true });
    await release().catch(() => undefined);
  }
}
