import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinDriverNames, loadDriver } from '../../src/drivers/registry.js';
import type { DriverContext, DriverModule, FlagValues } from '../../src/drivers/driver.js';
import { PLUGIN_API_VERSION } from '../../src/drivers/driver.js';
import { loadHost } from '../../src/host/host.js';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/store.js';
import { repoRoot, tempStore } from '../helpers/cli.js';
import { copyLegacyStore } from '../helpers/fixture.js';

const dm0162 = join(repoRoot, 'drivers-test-fixtures', 'docker-machine-0.16.2');

function ctx(store: string, name: string): DriverContext {
  return { machineName: name, storePath: store, machineDir: join(store, 'machines', name), log: silentLogger, lock: (_k, fn) => fn() };
}

/** What each driver's create flags look like when a user gives the usual ones (checked before anything is made). */
const sampleFlags: Record<string, FlagValues> = {
  generic: { 'generic-ip-address': '192.0.2.10', 'generic-ssh-user': 'admin', 'generic-ssh-port': 2222, 'generic-engine-port': 12376, 'generic-ssh-key': '/tmp/k' },
  none: { url: 'tcp://192.0.2.11:2376' },
  docker: { 'docker-image': 'my/host:1', 'docker-network': 'lab', 'docker-cpus': '1.5', 'docker-memory': 512, 'docker-publish-ssh': true },
  qemu: { 'qemu-cpus': 4, 'qemu-memory': 4096, 'qemu-accel': 'tcg', 'qemu-network': 'socket-mcast', 'qemu-private-address': '10.77.0.11/24' },
  virtualbox: { 'virtualbox-memory': 2048, 'virtualbox-cpu-count': 2, 'virtualbox-hostonly-cidr': '192.168.56.1/24', 'virtualbox-no-share': true },
  amazonec2: { 'amazonec2-region': 'eu-west-1', 'amazonec2-instance-type': 't3.small', 'amazonec2-open-port': ['8080', '53/udp'], 'amazonec2-retries': 3 },
  azure: { 'azure-subscription-id': '00000000-1111-2222-3333-444444444444', 'azure-location': 'westeurope', 'azure-open-port': ['8080'], 'azure-tags': 'team=ops' },
};

describe('driver settings', () => {
  it('every built-in driver is covered here', () => {
    expect(Object.keys(sampleFlags).sort()).toEqual(builtinDriverNames());
  });

  for (const name of Object.keys(sampleFlags)) {
    it(`${name}: flags become typed settings that round-trip through config.json`, async () => {
      const mod = await loadDriver(name);
      expect(mod.apiVersion).toBe(PLUGIN_API_VERSION);
      const store = await tempStore();
      const d = mod.newDriver(ctx(store, 'm1'));
      await d.setConfigFromFlags(sampleFlags[name]!);
      const json = JSON.stringify(d.config());
      const back = mod.readSettings(JSON.parse(json));
      expect(back).toEqual(d.config());
      // A driver built from the saved settings says the same things as the one that made them.
      const again = mod.newDriver(ctx(store, 'm1'), back);
      expect(again.enginePort()).toBe(d.enginePort());
      expect(again.getSSHUsername()).toBe(d.getSSHUsername());
      expect(again.getSSHKeyPath()).toBe(d.getSSHKeyPath());
      expect(JSON.stringify(again.config())).toBe(json);
    });

    it(`${name}: flag defaults are the schema's defaults`, async () => {
      const mod = await loadDriver(name);
      const fresh = mod.newDriver(ctx(await tempStore(), 'm1')).config() as unknown as Record<string, unknown>;
      // A default shown in --help is the value a machine made without that flag gets.
      for (const f of mod.flags.filter((x) => x.default !== undefined && x.type !== 'bool')) {
        const values = Object.values(fresh).map(String);
        expect(values, `--${f.name} default ${String(f.default)}`).toContain(String(f.default));
      }
    });
  }

  it('reads what Docker Machine 0.16.2 wrote for generic, none, virtualbox and amazonec2, and keeps every field', async () => {
    const legacy = await copyLegacyStore();
    for (const name of ['legacy-generic', 'legacy-none']) {
      const raw = JSON.parse(await readFile(join(legacy, 'machines', name, 'config.json'), 'utf8'));
      const mod = await loadDriver(raw.DriverName);
      expect(JSON.parse(JSON.stringify(mod.readSettings(raw.Driver)))).toEqual(raw.Driver);
    }
    const vbox = JSON.parse(await readFile(join(dm0162, 'virtualbox', 'config.json'), 'utf8'));
    const v = (await loadDriver('virtualbox')).readSettings(vbox.Driver);
    expect(v).toMatchObject({ CPU: 1, Memory: 1024, DiskSize: 20000, HostOnlyCIDR: '192.168.99.1/24', UIType: 'headless', DNSProxy: true, SSHUser: 'docker' });
    // Every field Docker Machine wrote survives a load and save with its value, those machine
    // does not model (VBoxManager, HostInterfaces) too; machine's own are added beside them.
    expect(JSON.parse(JSON.stringify(v))).toMatchObject(vbox.Driver);
    expect(Object.keys(JSON.parse(JSON.stringify(v))).filter((k) => !(k in vbox.Driver)).sort()).toEqual(['HostOnlyKind', 'HostOnlyMAC', 'ImageURL', 'UUID']);
    const ec2 = JSON.parse(await readFile(join(dm0162, 'amazonec2', 'config.json'), 'utf8'));
    const e = (await loadDriver('amazonec2')).readSettings(ec2.Driver);
    expect(e).toMatchObject({ Region: 'eu-west-1', InstanceId: 'i-0a1b2c3d4e5f60789', KeyName: 'dm-ec2', ExistingKey: false, RetryCount: 5, SecurityGroupNames: ['docker-machine'], OpenPorts: [] });
    expect({ ...JSON.parse(JSON.stringify(e)), OpenPorts: null }).toMatchObject(ec2.Driver);
  });

  it('loads a Docker Machine 0.16.2 virtualbox machine from a store, with its driver', async () => {
    const root = await tempStore();
    const dir = join(root, 'machines', 'dm-vbox');
    await mkdir(dir, { recursive: true });
    await cp(join(dm0162, 'virtualbox', 'config.json'), join(dir, 'config.json'));
    const host = await loadHost(new Store(root), 'dm-vbox');
    expect(host.driver.name).toBe('virtualbox');
    expect(await host.driver.getIP()).toBe('192.168.99.100');
    expect(await host.driver.getURL()).toBe('tcp://192.168.99.100:2376');
    expect(host.driver.getSSHKeyPath()).toBe(join(root, 'machines', 'dm-vbox', 'id_rsa'));
  });

  it('names the file and the field when a saved setting has the wrong type', async () => {
    const root = await copyLegacyStore();
    const file = join(root, 'machines', 'legacy-generic', 'config.json');
    const raw = JSON.parse(await readFile(file, 'utf8'));
    raw.Driver.EnginePort = 'twenty-three-seventy-six';
    await writeFile(file, JSON.stringify(raw));
    await expect(loadHost(new Store(root), 'legacy-generic')).rejects.toThrow(
      `Invalid machine config ${file}: field Driver.EnginePort: Invalid type: Expected number but received "twenty-three-seventy-six"`,
    );
  });
});

describe('plugin API', () => {
  async function pluginDir(source: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'machine-plugins-'));
    await writeFile(join(dir, 'machine-driver-probe.mjs'), source);
    return dir;
  }
  async function load(dir: string, name = 'probe'): Promise<DriverModule> {
    const saved = process.env.MACHINE_DRIVER_PATH;
    process.env.MACHINE_DRIVER_PATH = dir;
    try {
      return await loadDriver(name);
    } finally {
      if (saved === undefined) delete process.env.MACHINE_DRIVER_PATH;
      else process.env.MACHINE_DRIVER_PATH = saved;
    }
  }

  it('refuses a plugin written for another API version, naming both versions', async () => {
    const dir = await pluginDir(`export default { apiVersion: 99, name: 'probe', flags: [], readSettings: (r) => r, newDriver() {} };`);
    await expect(load(dir)).rejects.toThrow(/Driver plugin "probe" was written for plugin API version 99, and this .* speaks version 1: update the plugin/);
  });

  it('loads the example plugin, whose settings are checked on load', async () => {
    const mod = await load(join(repoRoot, 'examples'), 'static');
    expect(mod.name).toBe('static');
    expect(() => mod.readSettings({ URL: 42 })).toThrow(/URL/);
    const d = mod.newDriver(ctx('/tmp/s', 'p1'));
    await d.setConfigFromFlags({ 'static-url': 'tcp://192.0.2.5:2376' });
    expect(mod.readSettings(JSON.parse(JSON.stringify(d.config())))).toEqual(d.config());
    expect(await d.getURL()).toBe('tcp://192.0.2.5:2376');
  });
});
