import { defineConfig } from 'vitest/config';

// Benchmarks run as scripts under vitest so they can use the e2e harness (a private dockerd,
// container hosts); they print figures beside a reference measured in the same run and
// assert nothing about time.
export default defineConfig({
  test: {
    include: ['bench/**/*.bench.ts'],
    globalSetup: ['bench/summary.ts', 'test/harness/global-setup.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 1_800_000,
    fileParallelism: false,
    disableConsoleIntercept: true,
  },
});
