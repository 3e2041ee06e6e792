// A complete driver plugin: an engine at a fixed URL that someone else runs (like the
// built-in `none` driver). Put this file in a directory listed in MACHINE_DRIVER_PATH and
// use it with `machine create -d static --static-url tcp://HOST:2376 NAME`.

/** @type {import('machine/driver').DriverModule} */
export default {
  name: 'static',
  flags: [{ name: 'static-url', type: 'string', description: 'URL of the engine', env: 'STATIC_URL' }],
  newDriver(ctx, saved) {
    const cfg = saved ?? { IPAddress: '', MachineName: ctx.machineName, SSHUser: '', SSHPort: 0, SSHKeyPath: '', StorePath: ctx.storePath, URL: '' };
    const unsupported = (what) => async () => {
      throw new Error(`the static driver cannot ${what} a machine`);
    };
    return {
      name: 'static',
      provisionable: false,
      config: () => cfg,
      setConfigFromFlags(flags) {
        if (!flags['static-url']) throw new Error('--static-url is required');
        cfg.URL = flags['static-url'];
        cfg.IPAddress = new URL(cfg.URL).hostname;
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
      getSSHHostname: unsupported('SSH into'),
      getSSHPort: unsupported('SSH into'),
      getSSHUsername: () => '',
      getSSHKeyPath: () => '',
    };
  },
};
