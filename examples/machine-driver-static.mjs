// A complete driver plugin: an engine at a fixed URL that someone else runs (like the
// built-in `none` driver). Put this file in a directory listed in MACHINE_DRIVER_PATH and
// use it with `machine create -d static --static-url tcp://HOST:2376 NAME`.
// `npm run build` type-checks it against the plugin API (src/plugin.ts).

/** @typedef {import('machine/plugin').BaseSettings & { URL: string }} StaticSettings */

/**
 * What config.json keeps under "Driver": checked on every load, so a hand-edited file that
 * is wrong is reported by field. The loader adds the file's path.
 * @param {unknown} raw
 * @returns {StaticSettings}
 */
function readSettings(raw) {
  const r = /** @type {Record<string, unknown>} */ (raw ?? {});
  if (typeof r.URL !== 'string') throw new Error(`field Driver.URL: expected a string, got ${JSON.stringify(r.URL)}`);
  return /** @type {StaticSettings} */ (r);
}

/** @type {import('machine/plugin').DriverModule<StaticSettings>} */
const staticDriver = {
  apiVersion: 1,
  name: 'static',
  flags: [{ name: 'static-url', type: 'string', description: 'URL of the engine', env: 'STATIC_URL' }],
  readSettings,
  newDriver(ctx, saved) {
    /** @type {StaticSettings} */
    const cfg = saved ?? {
      IPAddress: '',
      MachineName: ctx.machineName,
      SSHUser: '',
      SSHPort: 0,
      SSHKeyPath: '',
      StorePath: ctx.storePath,
      SwarmMaster: false,
      SwarmHost: '',
      SwarmDiscovery: '',
      URL: '',
    };
    /** @param {string} what */
    const unsupported = (what) => async () => {
      throw new Error(`the static driver cannot ${what} a machine`);
    };
    return {
      name: 'static',
      provisionable: false,
      config: () => cfg,
      setConfigFromFlags(flags) {
        const url = flags['static-url'];
        if (typeof url !== 'string' || !url) throw new Error('--static-url is required');
        cfg.URL = url;
        cfg.IPAddress = new URL(url).hostname;
      },
      preCreateCheck: async () => {},
      create: async () => {},
      remove: async () => {},
      start: unsupported('start'),
      stop: unsupported('stop'),
      restart: unsupported('restart'),
      kill: unsupported('kill'),
      getState: async () => 'Running',
      getIP: async () => cfg.IPAddress,
      getURL: async () => cfg.URL,
      enginePort: () => Number(new URL(cfg.URL).port) || 2376,
      getSSHHostname: unsupported('SSH into'),
      getSSHPort: unsupported('SSH into'),
      getSSHUsername: () => '',
      getSSHKeyPath: () => '',
    };
  },
};
export default staticDriver;
