import { DriverError, MachineError } from '../errors.js';
import type { Driver, DriverModule } from './driver.js';

/**
 * A JS plugin's failures, as the user's one line.
 *
 * Policy:
 * - The API's error classes (src/plugin.ts) are printed as they are, as the built-in drivers'.
 * - A plain Error (or a class of the plugin's own) is the plugin's message to the user, as a Go
 *   plugin's error string is: printed as it is, not as a bug of machine's to report.
 * - Anything the JavaScript engine threw (TypeError, ReferenceError...) or a throw that is no
 *   Error is the plugin's bug: the line names the plugin and its file, and --debug prints the
 *   stack (run.ts prints a MachineError's cause).
 * - The plugin gets back its own objects: listStates is handed the drivers it made, not the
 *   wrappers (a class with #private fields refuses a stand-in).
 */
export function guardPlugin(mod: DriverModule, name: string, file: string): DriverModule {
  const asOurs = (err: unknown): unknown => {
    if (err instanceof MachineError) return err;
    if (err instanceof Error && !ENGINE_ERRORS.some((E) => err.constructor === E)) return new DriverError(err.message, { cause: err });
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return new DriverError(`Driver plugin "${name}" failed: ${what} (a bug in the plugin, ${file}: run again with --debug for its stack)`, { cause: err });
  };
  const guarded = <F extends (...args: never[]) => unknown>(fn: F, self: unknown): F =>
    function (...args: Parameters<F>) {
      let result: unknown;
      try {
        result = fn.apply(self, args);
      } catch (err) {
        throw asOurs(err);
      }
      return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(asOurs(err))) : result;
    } as F;
  const own = new WeakMap<Driver, Driver>();
  const wrap = (driver: Driver): Driver => {
    const methods = new Map<PropertyKey, unknown>();
    const proxy = new Proxy(driver, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        let m = methods.get(key);
        if (!m) methods.set(key, (m = guarded(value as (...args: never[]) => unknown, target)));
        return m;
      },
    });
    own.set(proxy, driver);
    return proxy;
  };
  return {
    apiVersion: mod.apiVersion,
    name: mod.name,
    flags: mod.flags,
    readSettings: guarded(mod.readSettings, mod),
    newDriver: (ctx, saved) => wrap(guarded(mod.newDriver, mod)(ctx, saved)),
    ...(mod.listStates
      ? { listStates: (drivers: Driver[]) => guarded(mod.listStates!, mod)(drivers.map((d) => own.get(d) ?? d)) }
      : {}),
  };
}

/** What the engine throws for a mistake in code, as opposed to an Error a plugin means to show. */
const ENGINE_ERRORS: Function[] = [TypeError, ReferenceError, RangeError, SyntaxError, EvalError, URIError];
