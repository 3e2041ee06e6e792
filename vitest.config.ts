import { defineConfig } from 'vitest/config';

// Three lanes that run side by side, each one file at a time:
// - qemu: real VMs under TCG, minutes of mostly emulated-CPU work in a few long waits;
// - e2e: everything else that drives real hosts on the shared private dockerd;
// - unit: fast, no hosts.
// e2e files share one dockerd and each lane keeps its own files sequential, so a lane's
// timings stay those of a lone run; the QEMU lane is long enough that running it beside
// the rest is what keeps the suite inside its budget on two cores.
const qemu = 'test/e2e/qemu.test.ts';

export default defineConfig({
  test: {
    globalSetup: ['test/harness/global-setup.ts'],
    // e2e files provision real hosts over SSH: minutes, not milliseconds.
    testTimeout: 600_000,
    hookTimeout: 900_000,
    projects: [
      { extends: true, test: { name: 'qemu', include: [qemu], fileParallelism: false } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], exclude: [qemu], fileParallelism: false } },
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], fileParallelism: false } },
    ],
  },
});
