import { spawnSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withFileLock } from '../../src/store/lock.js';
import { tempStore } from '../helpers/cli.js';

describe('store locks', () => {
  it('says what it waits for, naming the machine and the holding process', async () => {
    const dir = join(await tempStore(), '.locks');
    // The holder is another command; here it runs in this process, so its pid is ours.
    let release!: () => void;
    let held!: () => void;
    const holding = new Promise<void>((r) => (held = r));
    const holder = withFileLock(dir, 'web1', () => new Promise<void>((r) => (held(), (release = r))));
    await holding;
    const said: string[] = [];
    setTimeout(() => release(), 1500);
    await withFileLock(dir, 'web1', async () => undefined, { onWait: (m) => said.push(m) });
    await holder;
    expect(said).toEqual([`Waiting for another machine command on web1 (pid ${process.pid})...`]);
  });

  it('takes over at once a lock whose holder crashed, and leaves no lock files behind', async () => {
    const dir = join(await tempStore(), '.locks');
    await mkdir(dir, { recursive: true });
    // A crashed holder: its lock folder and its owner record, with a process id that is gone.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    await mkdir(join(dir, 'web2.lock'));
    await writeFile(join(dir, 'web2.owner'), JSON.stringify({ pid: dead }));
    const said: string[] = [];
    const started = Date.now();
    await withFileLock(dir, 'web2', async () => undefined, { onWait: (m) => said.push(m) });
    // proper-lockfile alone would wait for its 30 s staleness window.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(said).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });
});
