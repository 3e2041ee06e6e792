import { HostNotRunningError } from '../errors.js';
import type { Driver, DriverContext, DriverModule, FlagSpec } from './driver.js';
import { PLUGIN_API_VERSION } from './driver.js';
import { readSettings, type BaseSettings } from './settings.js';
import type * as v from 'valibot';

/** The base fields a new machine knows from the start. */
export function machineFields(ctx: DriverContext): { MachineName: string; StorePath: string } {
  return { MachineName: ctx.machineName, StorePath: ctx.storePath };
}

/** A built-in driver's module: its settings are read through its schema. */
export function builtinModule<T extends BaseSettings>(def: {
  name: string;
  /** The schema T was derived from (T = SettingsOf<typeof schema>). */
  schema: v.LooseObjectSchema<v.ObjectEntries, undefined>;
  flags: FlagSpec[];
  newDriver(ctx: DriverContext, saved?: T): Driver<T>;
}): DriverModule<T> {
  return {
    apiVersion: PLUGIN_API_VERSION,
    name: def.name,
    flags: def.flags,
    readSettings: (raw) => readSettings(def.schema, raw) as T,
    newDriver: (ctx, saved) => def.newDriver(ctx, saved),
  };
}

export function flagString(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}
export function flagInt(v: unknown, fallback: number): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return fallback;
}
export function flagBool(v: unknown): boolean {
  return v === true;
}
export function flagList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : typeof v === 'string' && v ? [v] : [];
}

/** A driver's flag specs, named with its prefix as Docker Machine's are (`amazonec2-region`). */
export function flagSpecFor(driver: string) {
  return (name: string, type: FlagSpec['type'], description: string, def?: string | number, env?: string): FlagSpec => ({
    name: `${driver}-${name}`,
    type,
    description,
    ...(def !== undefined ? { default: def } : {}),
    ...(env ? { env } : {}),
  });
}

/**
 * A cloud machine's address as recorded: none while it is stopped, since the provider gave
 * it back (and may have given it to someone else).
 */
export function recordedAddress(settings: { IPAddress: string }, machine: string): string {
  if (!settings.IPAddress) throw new HostNotRunningError(machine);
  return settings.IPAddress;
}
