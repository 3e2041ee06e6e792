// The fast-path half of certs, for env/config/ls: certificates are read with our own DER
// parser, so neither node:crypto nor node-forge loads with it (certMatchesCA loads
// node:crypto when it runs). generate.ts (node-forge) loads on demand.
export * from './check.js';
