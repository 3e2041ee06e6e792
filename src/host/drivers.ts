// The driver registry as the CLI sees it: names for help, a driver's flags for parsing.
export { builtinDriverNames, discoverPlugins, loadDriver, loadDriverWithFlags } from '../drivers/registry.js';
export type { DriverModule, FlagSpec, FlagValue, FlagValues } from '../drivers/driver.js';
