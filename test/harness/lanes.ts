// Test files run two at a time (vitest.config.ts). QEMU's file is mostly emulated CPU and
// waits, and it shares nothing with the rest; the other end-to-end files share the private
// dockerd, its networks and the CPU in ways they were written for one at a time. So each of
// those holds the "hosts" lane for its whole run: at most one of them runs at once, beside
// QEMU's file or unit files, and a file waiting for the lane says so.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { afterAll, beforeAll } from 'vitest';

const LANE_DIR = join(tmpdir(), 'machine-e2e-hosts-lane');

/** Files that hold the lane: end-to-end files other than QEMU's. */
export function holdsHostsLane(file: string): boolean {
  return /\/test\/e2e\//.test(file) && !file.endsWith('/test/e2e/qemu.test.ts');
}

let release: (() => Promise<void>) | undefined;

// eslint-disable-next-line no-empty-pattern -- vitest passes the file as the second argument
beforeAll(async ({}, suite) => {
  const file = suite.file?.filepath ?? '';
  if (!holdsHostsLane(file)) return;
  mkdirSync(LANE_DIR, { recursive: true });
  const started = Date.now();
  let said = false;
  for (;;) {
    try {
      // A holder that crashed stops refreshing the lock's mtime and is taken over (stale).
      release = await lockfile.lock(LANE_DIR, { lockfilePath: join(LANE_DIR, 'lock'), stale: 30_000, update: 5_000 });
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'ELOCKED') throw err;
      if (!said && Date.now() - started > 2_000) {
        process.stderr.write(`[lanes] ${file.split('/').pop()} waits for another end-to-end file to finish\n`);
        said = true;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
});

afterAll(async () => {
  await release?.();
  release = undefined;
});
