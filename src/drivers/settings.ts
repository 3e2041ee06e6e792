import * as v from 'valibot';
import { MachineError } from '../errors.js';

// A driver's settings are what config.json keeps under "Driver". Each driver declares them
// once, as a valibot schema: the JSON names, the types and the defaults. Flag specs take
// their defaults from it, a new machine starts from it, and a saved machine is read back
// through it, so a wrong field is reported by name instead of surfacing later as NaN.

export const str = (fallback = '') => v.optional(v.string(), fallback);
export const int = (fallback = 0) => v.optional(v.pipe(v.number(), v.integer()), fallback);
export const num = (fallback = 0) => v.optional(v.number(), fallback);
export const bool = (fallback = false) => v.optional(v.boolean(), fallback);
/** Go writes `null` for an empty slice: read it as []. */
export const strList = (fallback: string[] = []) =>
  v.pipe(
    v.optional(v.nullable(v.array(v.string())), () => [...fallback]),
    v.transform((x) => x ?? []),
  );

/** libmachine's BaseDriver fields, which come first in every driver's block. */
export const baseEntries = {
  IPAddress: str(),
  MachineName: str(),
  SSHUser: str('root'),
  SSHPort: int(22),
  SSHKeyPath: str(),
  StorePath: str(),
  SwarmMaster: bool(),
  SwarmHost: str(),
  SwarmDiscovery: str(),
};

/**
 * A driver's schema: the base fields (which the driver may re-default, e.g. SSHUser) and its
 * own. Fields the schema does not know (written by Docker Machine or by another version)
 * are kept as they are, so a load and save never loses them.
 */
export function settingsSchema<E extends v.ObjectEntries>(entries: E) {
  return v.looseObject({ ...baseEntries, ...entries });
}

type AnySettingsSchema = v.LooseObjectSchema<v.ObjectEntries, undefined>;

/** The settings as the driver sees them: every field typed, no open-ended index. */
export type SettingsOf<S extends AnySettingsSchema> = v.InferOutput<v.ObjectSchema<S['entries'], undefined>>;

export const BaseSettingsSchema = settingsSchema({});
export type BaseSettings = SettingsOf<typeof BaseSettingsSchema>;

/** A saved Driver block that does not fit its driver's schema; the store adds the file. */
export class SettingsError extends MachineError {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`field Driver${field ? `.${field}` : ''}: ${detail}`);
  }
}

export function readSettings<S extends AnySettingsSchema>(schema: S, raw: unknown): SettingsOf<S> {
  const result = v.safeParse(schema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    throw new SettingsError((issue && v.getDotPath(issue)) || '', issue?.message ?? 'invalid');
  }
  return result.output as SettingsOf<S>;
}

/** A new machine's settings: the schema's defaults, with what is known at the start. */
export function newSettings<S extends AnySettingsSchema>(schema: S, fields: Partial<SettingsOf<S>>): SettingsOf<S> {
  return readSettings(schema, fields);
}

/** Defaults for flag specs, read off the schema so that they are written once. */
export function defaultsOf<S extends AnySettingsSchema>(schema: S): SettingsOf<S> {
  return readSettings(schema, {});
}
