// A plugin's import() lives in a module of its own, loaded only to import a plugin. The core
// chunk is compiled through vm.Script (src/cli/code-cache.ts), where import() works only with
// an experimental option that prints a warning on every plugin load; this chunk is compiled
// by Node's own loader, where import() is the usual one.

/**
 * The plugin's module. The second argument keeps this a real import() in the bundle, which
 * turns the others into require(): a plugin is an ES module named by a file URL, which
 * require() refuses.
 */
export function importPluginModule(url: string): Promise<unknown> {
  return import(url, {});
}
