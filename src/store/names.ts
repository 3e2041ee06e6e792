import { InvalidHostnameError } from '../errors.js';

// Docker Machine's rule plus `_`, which its store accepted from older versions.
const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

export function isValidMachineName(name: string): boolean {
  return VALID_NAME.test(name) && name.length <= 253;
}

export function validateMachineName(name: string): void {
  if (!isValidMachineName(name)) throw new InvalidHostnameError(name);
}
