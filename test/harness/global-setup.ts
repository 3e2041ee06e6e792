import type { TestProject } from 'vitest/node';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir, startDockerd } from './dockerd.js';
import { ensureHostImage } from './hosts.js';
import { sh } from './exec.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dockerHost: string;
    hostImage: string;
    e2eSkipReason: string;
  }
}

async function missing(): Promise<string> {
  if (process.getuid?.() !== 0) return 'end-to-end tests need root (dockerd, debootstrap)';
  for (const tool of ['dockerd', 'docker', 'debootstrap', 'ssh', 'ssh-keygen']) {
    if ((await sh('sh', ['-c', `command -v ${tool}`])).code !== 0) return `${tool} is not installed (run scripts/test-deps.sh as root)`;
  }
  return '';
}

/** One private dockerd and one host image for the whole run; stopped at the end. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  project.provide('dockerHost', '');
  project.provide('hostImage', '');
  const reason = await missing();
  if (reason) {
    // On CI (root, Debian) nothing may skip: a missing piece is a failure there.
    if (process.env.CI) throw new Error(`e2e prerequisites missing on CI: ${reason}`);
    project.provide('e2eSkipReason', reason);
    return async () => undefined;
  }
  const started = Date.now();
  const engine = await startDockerd();
  const image = await ensureHostImage(engine.host, (l) => process.stderr.write(`[harness] ${l}\n`));
  project.provide('dockerHost', engine.host);
  project.provide('hostImage', image);
  project.provide('e2eSkipReason', '');
  return async () => {
    await engine.stop();
    // For the bench's table (#17): how long the last whole run took, shared images included.
    // A partial run (a file or a filter) is not the suite's figure and is not recorded.
    if (project.vitest.state.getFiles().length >= 30) {
      await writeFile(join(cacheDir, 'last-test-run.json'), JSON.stringify({ finishedAt: new Date().toISOString(), seconds: Math.round((Date.now() - started) / 1000), files: project.vitest.state.getFiles().length }) + '\n');
    }
  };
}
