import { defineConfig } from 'vitest/config';

// Quick runs of unit tests while developing (`npx vitest run -c vitest.unit.config.ts`):
// no private dockerd or host image is started. `npm test` runs everything.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    testTimeout: 120_000,
  },
});
