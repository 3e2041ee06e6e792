import { InvalidHostnameError } from '../errors.js';

// A new machine's name becomes its hostname: exactly what a hostname label accepts (Docker
// Machine's characters, no `_`, at most 63 characters), so provisioning never fails halfway on it.
const NEW_NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]*$/;
export const MAX_NAME_LENGTH = 63;

// Existing records are read with the looser rule older Docker Machine stores need (`_`
// passed there); either way a name is one safe path component, never `..` or a slash.
const EXISTING_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

export function isValidMachineName(name: string): boolean {
  return EXISTING_NAME.test(name) && name.length <= 253;
}

export function isValidNewMachineName(name: string): boolean {
  return NEW_NAME.test(name) && name.length <= MAX_NAME_LENGTH;
}

/** For names that reach the file system: refuses anything that is not a machine's name. */
export function validateMachineName(name: string): void {
  if (!isValidMachineName(name)) throw new InvalidHostnameError(name);
}

/** For create: the name must work as the machine's hostname. */
export function validateNewMachineName(name: string): void {
  if (!isValidNewMachineName(name)) throw new InvalidHostnameError(name);
}
