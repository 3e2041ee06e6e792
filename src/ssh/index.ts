export * from './session.js';
export * from './wait.js';
export * from './keys.js';
export * from './known-hosts.js';
export * from './system-ssh.js';
export * from './errors.js';
