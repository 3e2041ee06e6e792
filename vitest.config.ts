import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    // e2e files provision real hosts over SSH: minutes, not milliseconds.
    testTimeout: 600_000,
    hookTimeout: 900_000,
    // Two cores: e2e files share one dockerd and the CPU; running them one after another
    // keeps timings predictable and stays well under CI's budget.
    fileParallelism: false,
  },
});
