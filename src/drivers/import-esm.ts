/**
 * import() of an ES module by URL (a driver plugin), in a module of its own: the bundle's core
 * chunk is compiled through the CLI's code cache (node:vm), where import() works only with an
 * experimental option that prints a warning. Loaded as a chunk of its own, this one is
 * compiled by Node itself. The second argument keeps it a real import() in the bundle, which
 * turns the others into require(): a plugin is an ES module named by a file URL, which
 * require() refuses.
 */
export function importEsm(url: string): Promise<unknown> {
  return import(url, {});
}
