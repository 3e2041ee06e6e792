import { describe, expect, it } from 'vitest';
import { machine, tempStore } from '../helpers/cli.js';

// The helper every end-to-end test runs the CLI through.

describe('the machine() test helper', () => {
  it('takes a command that exits without reading its input as a result, not an uncaught EPIPE', async () => {
    // More than a pipe holds, so that the write is still pending when the command has exited:
    // the fast commands exit before a test's (empty) input reaches them.
    const r = await machine(await tempStore(), ['url', 'nosuch'], { input: 'x'.repeat(4_000_000) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Docker machine "nosuch" does not exist');
    // An 'error' event nobody listens for surfaces a tick later: give it the chance.
    await new Promise((resolve) => setTimeout(resolve, 100));
  });
});
