// The fast-path half of certs: node:crypto only. generate.ts (node-forge) loads on demand.
export * from './check.js';
