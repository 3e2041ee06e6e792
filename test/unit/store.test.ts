import { readFile, writeFile, mkdir, readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { isValidMachineName } from '../../src/store/names.js';
import { resolveStoreRoot } from '../../src/store/paths.js';
import { tempStore } from '../helpers/cli.js';
import { copyLegacyStore } from '../helpers/fixture.js';

const copyFixture = () => copyLegacyStore();

describe('store', () => {
  it('loads a Docker Machine 0.16.2 store and rebases its paths onto where it lives now', async () => {
    const root = await copyFixture();
    const store = new Store(root);
    expect(await store.list()).toEqual(['legacy-generic', 'legacy-none']);
    const cfg = await store.load('legacy-generic');
    expect(cfg.DriverName).toBe('generic');
    expect(cfg.Driver.SSHKeyPath).toBe(join(root, 'machines/legacy-generic/key'));
    expect(cfg.HostOptions.AuthOptions.CaCertPath).toBe(join(root, 'certs/ca.pem'));
    expect(cfg.HostOptions.AuthOptions.ServerCertPath).toBe(join(root, 'machines/legacy-generic/server.pem'));
    // A path outside the old store (the user's own key) is left alone.
    expect(cfg.Driver['SSHKey']).toBe('/home/user/.ssh/id_ed25519');
    expect(cfg.HostOptions.EngineOptions.Labels).toEqual(['env=test']);
    const none = await store.load('legacy-none');
    expect(none.HostOptions.EngineOptions.Dns).toEqual([]);
  });

  it('round-trips a config in Docker Machine shape, atomically and mode 0600', async () => {
    const root = await copyFixture();
    const store = new Store(root);
    const cfg = await store.load('legacy-generic');
    await store.save(cfg);
    const raw = JSON.parse(await readFile(store.configPath('legacy-generic'), 'utf8'));
    expect(raw.ConfigVersion).toBe(3);
    expect(Object.keys(raw)).toEqual(['ConfigVersion', 'Driver', 'DriverName', 'HostOptions', 'Name', 'MachineVersion']);
    expect(raw.HostOptions.AuthOptions.StorePath).toBe(join(root, 'machines/legacy-generic'));
    const { statSync } = await import('node:fs');
    expect(statSync(store.configPath('legacy-generic')).mode & 0o777).toBe(0o600);
    expect((await readdir(store.machineDir('legacy-generic'))).filter((f) => f.includes('tmp'))).toEqual([]);
  });

  it('names the corrupt file and the fix', async () => {
    const root = await tempStore();
    const store = new Store(root);
    await mkdir(store.machineDir('bad'), { recursive: true });
    await writeFile(store.configPath('bad'), '{"ConfigVersion": 3, "Driver": ');
    await expect(store.load('bad')).rejects.toThrow(/Invalid machine config .*bad\/config.json: not valid JSON.*rm -f/);
    await writeFile(store.configPath('bad'), JSON.stringify({ ConfigVersion: 3, Driver: {}, DriverName: 'generic', Name: 'bad' }));
    await expect(store.load('bad')).rejects.toThrow(/field HostOptions/);
    await expect(store.load('missing')).rejects.toThrow('Docker machine "missing" does not exist');
  });

  it('serialises concurrent writers of one machine', async () => {
    const root = await tempStore();
    const store = new Store(root);
    const order: string[] = [];
    await Promise.all(
      ['a', 'b', 'c'].map((tag) =>
        store.withLock('m', async () => {
          order.push(`${tag}+`);
          await new Promise((r) => setTimeout(r, 50));
          order.push(`${tag}-`);
        }),
      ),
    );
    for (let i = 0; i < order.length; i += 2) expect(order[i]!.slice(0, 1)).toBe(order[i + 1]!.slice(0, 1));
  });

  it('follows Docker Machine naming rules', () => {
    for (const ok of ['default', 'dev-1', 'a.b_c', '9lives']) expect(isValidMachineName(ok)).toBe(true);
    for (const bad of ['', '-x', '.x', 'a b', 'a/b', 'ü', 'a:b']) expect(isValidMachineName(bad)).toBe(false);
  });
});

describe('where the store is', () => {
  it("is Docker Machine's ~/.docker/machine by default, home as os.homedir() finds it with or without HOME", () => {
    const saved = { HOME: process.env.HOME, MACHINE_STORAGE_PATH: process.env.MACHINE_STORAGE_PATH };
    try {
      delete process.env.MACHINE_STORAGE_PATH;
      process.env.HOME = '/home/someone';
      expect(resolveStoreRoot()).toBe('/home/someone/.docker/machine');
      expect(resolveStoreRoot('/elsewhere')).toBe('/elsewhere');
      // Without HOME, the password database's home (node:os loads only then).
      delete process.env.HOME;
      expect(resolveStoreRoot()).toBe(resolve(homedir(), '.docker', 'machine'));
      process.env.HOME = '';
      expect(resolveStoreRoot()).toBe(resolve(homedir(), '.docker', 'machine'));
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
