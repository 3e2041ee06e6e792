// The API a driver plugin is written against: its types, the errors it may throw to give
// the user one clear line, and the version the loader checks. A plugin is an ES module whose
// default export is a DriverModule with `apiVersion: PLUGIN_API_VERSION`; examples/ holds one,
// type-checked against this file by `npm run build`.
export type {
  Driver,
  DriverContext,
  DriverModule,
  FlagSpec,
  FlagValue,
  FlagValues,
  MachineState,
} from './drivers/driver.js';
export { PLUGIN_API_VERSION } from './drivers/driver.js';
export type { BaseSettings } from './drivers/settings.js';
export { SettingsError } from './drivers/settings.js';
export type { Logger } from './log.js';
export { DriverError, MachineError, UsageError } from './errors.js';
