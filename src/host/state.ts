import { DriverError } from '../errors.js';
import type { Driver, MachineState } from '../drivers/driver.js';

export async function waitForState(driver: Driver, want: MachineState, timeoutMs: number, hint = '', signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  let last: MachineState = 'None';
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    last = await driver.getState();
    if (last === want) return;
    if (last === 'Error') break;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
  throw new DriverError(
    `Machine did not reach state ${want} within ${Math.round(timeoutMs / 1000)} s (last state: ${last})${hint ? `: ${hint}` : ''}`,
  );
}
