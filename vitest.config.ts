import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * QEMU's file first: it is the longest (real VMs under TCG) and runs beside everything else.
 * Then the other end-to-end files, longest known first, then the unit files.
 */
class LaneSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => (f.moduleId.endsWith('/test/e2e/qemu.test.ts') ? 0 : f.moduleId.includes('/test/e2e/') ? 1 : 2);
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map((x) => x.f);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    // Two files at a time; test/harness/lanes.ts keeps the end-to-end files other than
    // QEMU's to one at a time among themselves.
    setupFiles: ['test/harness/lanes.ts'],
    maxWorkers: 2,
    sequence: { sequencer: LaneSequencer },
    // e2e files provision real hosts over SSH: minutes, not milliseconds.
    testTimeout: 600_000,
    hookTimeout: 900_000,
  },
});
