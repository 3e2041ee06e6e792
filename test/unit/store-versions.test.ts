import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigFromFutureError, CorruptConfigError } from '../../src/errors.js';
import { migrateV1ToV2, storeRootOf } from '../../src/store/migrate.js';
import { parseHostConfig } from '../../src/store/schema.js';
import { Store } from '../../src/store/store.js';
import { VERSION } from '../../src/version.js';
import { cliPath, machine, tempStore } from '../helpers/cli.js';
import { copyLegacyStore, copyStoreFixture, legacyFixture } from '../helpers/fixture.js';

// Hand-written Docker Machine stores of ConfigVersion 0, 1 and 2 (see SOURCES.md beside them).
// Their paths point at /home/user/.docker/machine, so loading also exercises the rebase onto
// wherever the copy lives.
const fixture = join(import.meta.dirname, '..', 'fixtures', 'config-versions', 'store');
const NAMES = ['v0-generic', 'v0-vbox', 'v1-generic', 'v1-vbox', 'v2-generic', 'v2-vbox'];

/** A writable copy of the fixture store, with the modes a user's store has. */
async function copyStore(): Promise<string> {
  return copyStoreFixture(fixture, await tempStore('machine-versions-'));
}

describe('reading Docker Machine config versions 0-2', () => {
  let root: string;
  let store: Store;
  beforeAll(async () => {
    root = await copyStore();
    store = new Store(root);
  });
  const r = (...parts: string[]) => join(root, ...parts);

  it('lists every machine of every version', async () => {
    expect(await store.list()).toEqual(NAMES);
  });

  it('v0, flat: auth and swarm settings from the top of the host, the name from its directory', async () => {
    const c = await store.load('v0-generic');
    expect(c.ConfigVersion).toBe(3);
    expect(c.Name).toBe('v0-generic');
    expect(c.DriverName).toBe('generic');
    expect(c.Driver.IPAddress).toBe('127.0.0.10');
    expect(c.Driver.SSHUser).toBe('root');
    expect(c.Driver.StorePath).toBe(root);
    // Version 0 drivers had no SSHKeyPath: they used id_rsa in the machine directory.
    expect(c.Driver.SSHKeyPath).toBe(r('machines/v0-generic/id_rsa'));
    expect(c.Driver['SSHKey']).toBe('/home/user/.ssh/id_rsa'); // outside the store: kept
    expect(c.HostOptions.AuthOptions).toMatchObject({
      CertDir: r('certs'),
      CaCertPath: r('certs/ca.pem'),
      CaPrivateKeyPath: r('certs/ca-key.pem'),
      ClientCertPath: r('certs/cert.pem'),
      ClientKeyPath: r('certs/key.pem'),
      ServerCertPath: r('machines/v0-generic/server.pem'),
      ServerKeyPath: r('machines/v0-generic/server-key.pem'),
      StorePath: r('machines/v0-generic'),
    });
    expect(c.HostOptions.AuthOptions).not.toHaveProperty('PrivateKeyPath');
    expect(c.HostOptions.SwarmOptions).toMatchObject({
      IsSwarm: true,
      Master: true,
      Discovery: 'token://0123456789abcdef',
      Host: 'tcp://0.0.0.0:3376',
    });
    expect(c.HostOptions.EngineOptions.TlsVerify).toBe(true);
    expect(c.HostOptions.EngineOptions.Labels).toEqual([]);
    for (const gone of ['StorePath', 'SwarmHost', 'SwarmMaster', 'SwarmDiscovery', 'CaCertPath', 'ServerCertPath']) {
      expect(c).not.toHaveProperty(gone);
    }
  });

  it('v0 with nested HostOptions and empty flat fields: the nested values are kept', async () => {
    const c = await store.load('v0-vbox');
    expect(c.Name).toBe('v0-vbox');
    expect(c.DriverName).toBe('virtualbox');
    expect(c.Driver.IPAddress).toBe('192.168.99.100');
    expect(c.Driver.SSHUser).toBe('docker');
    expect(c.Driver.SSHPort).toBe(53507);
    expect(c.Driver.SSHKeyPath).toBe(r('machines/v0-vbox/id_rsa'));
    expect(c.Driver['Memory']).toBe(1024);
    expect(c.HostOptions.AuthOptions).toMatchObject({
      CaCertPath: r('certs/ca.pem'),
      CaPrivateKeyPath: r('certs/ca-key.pem'),
      ServerCertPath: r('certs/server.pem'),
      ServerKeyPath: r('certs/server-key.pem'),
      StorePath: r('machines/v0-vbox'),
    });
    expect(c.HostOptions.EngineOptions.Labels).toEqual(['env=v0']);
    expect(c.HostOptions.EngineOptions.InsecureRegistry).toEqual(['registry.local:5000']);
    expect(c.HostOptions.EngineOptions.Dns).toEqual([]);
    // false in a version 0 file is Go's zero value beside a full TLS setup: dropped, reads as on.
    expect(c.HostOptions.EngineOptions.TlsVerify).toBe(true);
    expect(c.HostOptions.SwarmOptions).toMatchObject({ IsSwarm: false, Master: false, Host: 'tcp://0.0.0.0:3376' });
  });

  it('v1: PrivateKeyPath becomes CaPrivateKeyPath, CertDir and the store path come from the top-level StorePath', async () => {
    const c = await store.load('v1-vbox');
    expect(c.Name).toBe('v1-vbox');
    expect(c.DriverName).toBe('virtualbox');
    expect(c.Driver.IPAddress).toBe('192.168.99.101');
    expect(c.Driver.SSHPort).toBe(64477);
    expect(c.Driver.SSHKeyPath).toBe(r('machines/v1-vbox/id_rsa'));
    expect(c.Driver.StorePath).toBe(root);
    expect(c.HostOptions.AuthOptions).toMatchObject({
      CertDir: r('certs'),
      CaPrivateKeyPath: r('certs/ca-key.pem'),
      ServerCertPath: r('machines/v1-vbox/server.pem'),
      StorePath: r('machines/v1-vbox'),
    });
    expect(c.HostOptions.AuthOptions).not.toHaveProperty('PrivateKeyPath');
    expect(c).not.toHaveProperty('StorePath');
    expect(c.HostOptions.EngineOptions).toMatchObject({ Labels: ['env=v1'], TlsVerify: true, InstallURL: 'https://get.docker.com' });
    expect(c.HostOptions.SwarmOptions).toMatchObject({ IsSwarm: false, Image: 'swarm:latest', Strategy: 'spread' });

    const g = await store.load('v1-generic');
    expect(g.DriverName).toBe('generic');
    expect(g.Driver.IPAddress).toBe('127.0.0.11');
    expect(g.Driver.SSHUser).toBe('ubuntu');
    expect(g.Driver.SSHPort).toBe(2222);
    expect(g.Driver.SSHKeyPath).toBe(r('machines/v1-generic/id_rsa'));
    expect(g.HostOptions.EngineOptions).toMatchObject({
      ArbitraryFlags: ['log-level=debug'],
      Env: ['HTTP_PROXY=http://proxy.local:3128'],
      StorageDriver: 'overlay',
    });
    expect(g.HostOptions.SwarmOptions).toMatchObject({ IsSwarm: true, Master: false, Discovery: 'token://fedcba9876543210' });
    expect(g.HostOptions.AuthOptions.StorePath).toBe(r('machines/v1-generic'));
  });

  it('v2: the driver gets the store root; a root in AuthOptions.StorePath becomes the machine directory', async () => {
    const g = await store.load('v2-generic');
    expect(g.DriverName).toBe('generic');
    expect(g.Driver.IPAddress).toBe('127.0.0.12');
    expect(g.Driver.StorePath).toBe(root);
    expect(g.Driver.SSHKeyPath).toBe(r('machines/v2-generic/id_rsa'));
    expect(g.HostOptions.EngineOptions).toMatchObject({ Labels: ['env=v2'], RegistryMirror: ['http://mirror.local'] });
    expect(g.HostOptions.AuthOptions).toMatchObject({
      CertDir: r('certs'),
      CaPrivateKeyPath: r('certs/ca-key.pem'),
      StorePath: r('machines/v2-generic'),
    });

    const b = await store.load('v2-vbox');
    expect(b.DriverName).toBe('virtualbox');
    expect(b.Driver.IPAddress).toBe('192.168.99.102');
    expect(b.Driver.SSHPort).toBe(50022);
    expect(b.Driver.StorePath).toBe(root);
    expect(b.Driver.SSHKeyPath).toBe(r('machines/v2-vbox/id_rsa'));
    expect(b.HostOptions.AuthOptions.StorePath).toBe(r('machines/v2-vbox'));
    expect(b.HostOptions.AuthOptions.ServerCertPath).toBe(r('machines/v2-vbox/server.pem'));
    expect(b.HostOptions.EngineOptions.StorageDriver).toBe('aufs');
  });

  it('loading leaves the files alone: no rewrite, no backup', async () => {
    const before = await readFile(join(fixture, 'machines/v1-vbox/config.json'));
    await store.load('v1-vbox');
    expect(await readFile(store.configPath('v1-vbox'))).toEqual(before);
    expect(existsSync(`${store.configPath('v1-vbox')}.bak`)).toBe(false);
  });

  it('still reads version 3 configs without MachineVersion', async () => {
    const legacy = new Store(await copyLegacyStore());
    const c = await legacy.load('legacy-generic');
    expect(c.ConfigVersion).toBe(3);
    expect(c.MachineVersion).toBeUndefined();
    expect(c.Driver.IPAddress).toBe('127.0.0.2');
  });
});

describe('migration steps', () => {
  it('1 -> 2 derives the store root from the machine directory, as Docker Machine did', () => {
    const v2 = migrateV1ToV2(
      {
        ConfigVersion: 1,
        Driver: { MachineName: 'm' },
        DriverName: 'virtualbox',
        HostOptions: { AuthOptions: { StorePath: '', PrivateKeyPath: '/s/certs/ca-key.pem', CaCertPath: '/s/certs/ca.pem' } },
        StorePath: '/s/machines/m',
      },
      { name: 'm', storeRoot: '/elsewhere' },
    );
    expect(v2).toMatchObject({
      ConfigVersion: 2,
      Name: 'm',
      HostOptions: { AuthOptions: { CertDir: '/s/certs', CaPrivateKeyPath: '/s/certs/ca-key.pem', StorePath: '/s/machines/m' } },
    });
    expect(v2).not.toHaveProperty('StorePath');
  });

  it('falls back to the store the file was read from when it names no path', () => {
    expect(storeRootOf({ Driver: {}, HostOptions: { AuthOptions: {} } }, { name: 'm', storeRoot: '/here' })).toBe('/here');
    expect(storeRootOf({ HostOptions: { AuthOptions: { CertDir: '/s/certs' } } }, { name: 'm', storeRoot: '/here' })).toBe('/s');
  });

  it('reports a migrated config that is still invalid with the version it came from', () => {
    const res = parseHostConfig({ ConfigVersion: 1, Driver: {}, HostOptions: {}, StorePath: '/s/machines/m' }, { name: 'm', storeRoot: '/s' });
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.detail).toMatch(/field DriverName: .*after migrating it from ConfigVersion 1/);
  });
});

describe('config versions refused', () => {
  const write = async (store: Store, name: string, config: unknown) => {
    await mkdir(store.machineDir(name), { recursive: true });
    await writeFile(store.configPath(name), JSON.stringify(config));
  };

  it('refuses a version from the future with its own message', async () => {
    const root = await copyStore();
    const store = new Store(root);
    const v3 = JSON.parse(await readFile(join(legacyFixture, 'machines/legacy-generic/config.json'), 'utf8'));
    await write(store, 'future', { ...v3, ConfigVersion: 4, Name: 'future', MachineVersion: '9.1.0' });
    const err = await store.load('future').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigFromFutureError);
    expect(err).not.toBeInstanceOf(CorruptConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain(store.configPath('future'));
    expect(msg).toContain('ConfigVersion 4');
    expect(msg).toContain('written by machine 9.1.0');
    expect(msg).toMatch(/upgrade machine/);
    expect(msg).not.toMatch(/Invalid machine config|\n/);
    // The others still load, and the future one is still listed (ls shows it with the error).
    expect(await store.list()).toContain('future');
    expect((await store.load('v1-vbox')).DriverName).toBe('virtualbox');
  });

  it.each([[-1], [1.5], ['3'], [null], [true]])('calls ConfigVersion %j a corrupt config', async (version) => {
    const store = new Store(await tempStore());
    await write(store, 'bad', { ConfigVersion: version, Driver: {}, DriverName: 'none', HostOptions: { AuthOptions: {} }, Name: 'bad' });
    const err = await store.load('bad').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptConfigError);
    expect((err as Error).message).toMatch(/^Invalid machine config .*bad\/config\.json: field ConfigVersion: /);
  });
});

describe('saving a migrated config', () => {
  it('backs the original up once, then writes version 3 stamped with MachineVersion', async () => {
    const store = new Store(await copyStore());
    for (const name of NAMES) {
      const path = store.configPath(name);
      const original = await readFile(path);
      const loaded = await store.load(name);
      await store.save(loaded);

      const written = JSON.parse(await readFile(path, 'utf8'));
      expect(written.ConfigVersion).toBe(3);
      expect(written.MachineVersion).toBe(VERSION);
      expect(written.Name).toBe(name);
      expect(Object.keys(written).slice(0, 5)).toEqual(['ConfigVersion', 'Driver', 'DriverName', 'HostOptions', 'Name']);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(await readFile(`${path}.bak`)).toEqual(original);
      expect(statSync(`${path}.bak`).mode & 0o777).toBe(0o600);
      expect((await readdir(store.machineDir(name))).filter((f) => f.includes('tmp'))).toEqual([]);

      // The saved file reads back to the same config, now without any migration.
      const again = await store.load(name);
      expect(again).toEqual({ ...loaded, MachineVersion: VERSION });

      // A second save rewrites config.json but leaves the backup of the original alone.
      await store.save({ ...again, Driver: { ...again.Driver, IPAddress: '127.0.0.99' } });
      expect(JSON.parse(await readFile(path, 'utf8')).Driver.IPAddress).toBe('127.0.0.99');
      expect(await readFile(`${path}.bak`)).toEqual(original);
    }
  });

  it('never replaces an existing .bak, and makes none for a version 3 file', async () => {
    const store = new Store(await copyStore());
    const bak = `${store.configPath('v0-vbox')}.bak`;
    await writeFile(bak, 'an older backup');
    await store.save(await store.load('v0-vbox'));
    expect(await readFile(bak, 'utf8')).toBe('an older backup');
    expect(JSON.parse(await readFile(store.configPath('v0-vbox'), 'utf8')).ConfigVersion).toBe(3);

    const legacy = new Store(await copyLegacyStore());
    await legacy.save(await legacy.load('legacy-generic'));
    expect(existsSync(`${legacy.configPath('legacy-generic')}.bak`)).toBe(false);
    expect(JSON.parse(await readFile(legacy.configPath('legacy-generic'), 'utf8')).MachineVersion).toBe(VERSION);
  });
});

describe('the CLI lists a store of old versions', () => {
  // Needs the built CLI (`npm run build`; `npm test` builds first).
  it.skipIf(!existsSync(cliPath) && !process.env.CI)('machine ls shows the v0, v1 and v2 machines with their drivers', async () => {
    const root = await copyStore();
    const originals = await Promise.all(NAMES.map((n) => readFile(join(root, 'machines', n, 'config.json'))));
    const res = await machine(root, ['ls', '--timeout', '5']);
    const rows = res.stdout.split('\n');
    for (const name of NAMES) {
      const row = rows.find((l) => l.split(/\s+/)[0] === name);
      expect(row, `a row for ${name} in:\n${res.stdout}`).toBeDefined();
      expect(row!.split(/\s+/)[2]).toBe(name.endsWith('vbox') ? 'virtualbox' : 'generic');
    }
    for (const out of [res.stdout, res.stderr]) expect(out).not.toMatch(/not supported|Invalid machine config/);
    // Listing migrates in memory only.
    const after = await Promise.all(NAMES.map((n) => readFile(join(root, 'machines', n, 'config.json'))));
    expect(after).toEqual(originals);
    for (const n of NAMES) expect(existsSync(join(root, 'machines', n, 'config.json.bak'))).toBe(false);
  });
});
