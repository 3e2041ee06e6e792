// The fast-path half of certs, for env/config/ls: certificates are read with our own DER
// parser, so node:crypto does not load with it (certMatchesCA loads it when it runs).
// generate.ts loads on demand.
export * from './check.js';
