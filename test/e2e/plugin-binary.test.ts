import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestHost, makeTestKey, type TestHost } from '../harness/hosts.js';
import { sh } from '../harness/exec.js';
import { copyLegacyStore } from '../helpers/fixture.js';
import { bash, machine, machineCmd, machineInterrupted, repoRoot, tempStore } from '../helpers/cli.js';

// #14: Docker Machine's driver plugins. The plugin here is written in Go with the standard
// library only (test/plugin-go/main.go): it speaks libmachine's protocol (net/rpc over HTTP,
// gob, types under libmachine's names) and drives a real container host as generic does.

const skipReason = inject('e2eSkipReason');
const goMissing = (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, 'go'))) ? '' : 'go is not installed (npm test installs golang-go as root)';
if (goMissing && process.env.CI) throw new Error(goMissing);
const why = skipReason || goMissing;

/** Builds the plugin once per source version, under the test cache. */
async function buildPlugin(): Promise<string> {
  const source = join(repoRoot, 'test', 'plugin-go', 'main.go');
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const cache = join(homedir(), '.cache', 'machine-test');
  const dir = join(cache, 'plugin-go', hash);
  const bin = join(dir, 'docker-machine-driver-testplug');
  if (existsSync(bin)) return dir;
  mkdirSync(dir, { recursive: true });
  const r = await sh('bash', ['-c', `GOCACHE="$1" GOFLAGS= GO111MODULE=off go build -o "$2" "$3"`, 'build', join(cache, 'go-build'), `${bin}.tmp`, source]);
  if (r.code !== 0) throw new Error(`go build failed: ${r.stderr}`);
  await sh('mv', [`${bin}.tmp`, bin]);
  return dir;
}

describe.skipIf(why)(`Docker Machine driver plugin binaries${why ? ` (skipped: ${why})` : ''}`, () => {
  const dockerHost = inject('dockerHost');
  const image = inject('hostImage');
  let host: TestHost;
  let key: string;
  let store: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    const dir = await tempStore('machine-e2e-plugin-');
    store = join(dir, 'store');
    key = await makeTestKey(dir);
    env = { MACHINE_DRIVER_PATH: await buildPlugin() };
    host = await createTestHost({ dockerHost, image, keyPath: key });
  });
  afterAll(async () => {
    await host?.remove();
  });

  const flags = () => ['-d', 'testplug', '--testplug-ip-address', host.ip, '--testplug-ssh-key', key, '--engine-install-url', 'distro'];

  it('lists the plugin\'s own flags in create --help, with their variables and defaults', async () => {
    const r = await machine(store, ['create', '-d', 'testplug', '--help'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--testplug-ip-address.*IP address of the host.*TESTPLUG_IP_ADDRESS/);
    expect(r.stdout).toMatch(/--testplug-ssh-user.*"root"/);
    expect(r.stdout).toMatch(/--testplug-ssh-port.*22/);
    expect(r.stdout).toMatch(/--testplug-label/);
  });

  it('creates through the plugin a machine whose TLS engine answers through env; ls, status, stop, start and rm go through it', async () => {
    const r = await machine(store, ['create', ...flags(), '--testplug-label', 'a', '--testplug-label', 'b', 'plug1'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(plug1) Importing SSH key...');
    const info = await bash(`set -e; eval "$(${machineCmd(store)} env plug1)"; docker info --format '{{.Name}}'`, env);
    expect(info.stdout.trim()).toBe('plug1');
    const cfg = JSON.parse(readFileSync(join(store, 'machines', 'plug1', 'config.json'), 'utf8'));
    expect(cfg.DriverName).toBe('testplug');
    // What the plugin keeps is its own JSON, as Docker Machine stored it.
    expect(cfg.Driver).toMatchObject({ IPAddress: host.ip, MachineName: 'plug1', Labels: ['a', 'b'], SSHKeyPath: join(store, 'machines', 'plug1', 'id_rsa') });
    expect((await machine(store, ['ls', '--format', '{{.Name}} {{.DriverName}} {{.State}}'], { env })).stdout.trim()).toBe('plug1 testplug Running');
    expect((await machine(store, ['status', 'plug1'], { env })).stdout.trim()).toBe('Running');
    expect((await machine(store, ['stop', 'plug1'], { env })).code).toBe(0);
    expect((await machine(store, ['status', 'plug1'], { env })).stdout.trim()).toBe('Stopped');
    expect((await machine(store, ['start', 'plug1'], { env })).code).toBe(0);
    expect((await machine(store, ['status', 'plug1'], { env })).stdout.trim()).toBe('Running');
    const rm = await machine(store, ['rm', '-y', 'plug1'], { env });
    expect(rm.stderr).toBe('');
    expect(rm.stdout).toContain('Successfully removed plug1');
    // No plugin process outlives the commands.
    expect((await sh('pgrep', ['-f', 'docker-machine-driver-testplug'])).stdout.trim()).toBe('');
  });

  it('a store Docker Machine wrote with a plugin driver loads and works: ls, status, provision, env, stop, start and rm go through the plugin', async () => {
    // Docker Machine ran every driver as a plugin and kept in config.json what the plugin's
    // GetConfigRaw returned. Its generic machine's JSON is what this plugin keeps too, so the
    // fixture's legacy-generic becomes a testplug machine by its DriverName alone; its address
    // is pointed at a real host that lets in the key Docker Machine copied into the store.
    const dm = await copyLegacyStore(join(await tempStore('machine-e2e-dmplug-'), 'store'));
    const file = join(dm, 'machines', 'legacy-generic', 'config.json');
    const written = JSON.parse(readFileSync(file, 'utf8'));
    const legacyHost = await createTestHost({ dockerHost, image, keyPath: join(dm, 'machines', 'legacy-generic', 'key') });
    try {
      written.DriverName = 'testplug';
      written.Driver.IPAddress = legacyHost.ip;
      writeFileSync(file, JSON.stringify(written, null, 4));

      const ls = await machine(dm, ['ls', '--format', '{{.Name}} {{.DriverName}} {{.State}}', '--filter', 'name=legacy-generic'], { env });
      expect(ls.stdout.trim()).toBe('legacy-generic testplug Running');
      expect((await machine(dm, ['status', 'legacy-generic'], { env })).stdout.trim()).toBe('Running');
      // The paths in the record follow the store to where it is now, not /home/user.
      expect((await machine(dm, ['inspect', '--format', '{{.Driver.SSHKeyPath}}', 'legacy-generic'], { env })).stdout.trim()).toBe(
        join(dm, 'machines', 'legacy-generic', 'key'),
      );
      // Docker Machine never got the engine up; provisioning through the plugin's SSH details does,
      // with the engine options Docker Machine recorded.
      const prov = await machine(dm, ['provision', 'legacy-generic'], { env });
      expect(prov.stderr).toBe('');
      expect(prov.code).toBe(0);
      const info = await bash(`set -e; eval "$(${machineCmd(dm)} env legacy-generic)"; docker info --format '{{.Name}} {{json .Labels}}'`, env);
      expect(info.stderr).toBe('');
      // dockerd keeps labels in no fixed order: compare them as a set.
      const [hostName, labelsJson] = info.stdout.trim().split(/ (.*)/s);
      expect(hostName).toBe('legacy-generic');
      expect(JSON.parse(labelsJson ?? 'null')).toEqual(expect.arrayContaining(['env=test', 'provider=testplug']));

      expect((await machine(dm, ['stop', 'legacy-generic'], { env })).code).toBe(0);
      expect((await machine(dm, ['status', 'legacy-generic'], { env })).stdout.trim()).toBe('Stopped');
      // The plugin's own state went back into config.json in Docker Machine's shape.
      const saved = JSON.parse(readFileSync(file, 'utf8'));
      expect(saved).toMatchObject({ ConfigVersion: 3, DriverName: 'testplug', Name: 'legacy-generic', Driver: { Stopped: true, MachineName: 'legacy-generic' } });
      expect(saved.HostOptions.EngineOptions.Labels).toEqual(['env=test']);
      expect((await machine(dm, ['start', 'legacy-generic'], { env })).code).toBe(0);
      expect((await machine(dm, ['status', 'legacy-generic'], { env })).stdout.trim()).toBe('Running');
      const rm = await machine(dm, ['rm', '-y', 'legacy-generic'], { env });
      expect(rm.stderr).toBe('');
      expect((await machine(dm, ['ls', '-q'], { env })).stdout.trim()).toBe('legacy-none');
      expect((await sh('pgrep', ['-f', 'docker-machine-driver-testplug'])).stdout.trim()).toBe('');
    } finally {
      await legacyHost.remove();
    }
  });

  it('a plugin built before Docker Machine 0.5.1 (service RpcServerDriver, type RpcFlags) creates and removes a machine', async () => {
    const old = { ...env, TESTPLUG_LEGACY: '1' };
    const help = await machine(store, ['create', '-d', 'testplug', '--help'], { env: old });
    expect(help.stdout).toMatch(/--testplug-ip-address/);
    const r = await machine(store, ['create', ...flags(), '--testplug-label', 'old', 'plug6'], { env: old });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const cfg = JSON.parse(readFileSync(join(store, 'machines', 'plug6', 'config.json'), 'utf8'));
    // The flags reached the plugin: it decoded them under the old type name.
    expect(cfg.Driver).toMatchObject({ IPAddress: host.ip, Labels: ['old'] });
    expect((await machine(store, ['status', 'plug6'], { env: old })).stdout.trim()).toBe('Running');
    expect((await machine(store, ['rm', '-y', 'plug6'], { env: old })).code).toBe(0);
    expect((await machine(store, ['ls', '-q'], { env: old })).stdout).not.toContain('plug6');
  });

  it("a docker-machine (or rancher-machine) binary on PATH serves Docker Machine's core drivers that machine has none of", async () => {
    const bin = await tempStore('machine-e2e-dm-bin-');
    await sh('cp', [join(env.MACHINE_DRIVER_PATH!, 'docker-machine-driver-testplug'), join(bin, 'docker-machine')]);
    const r = await machine(store, ['create', '-d', 'digitalocean', '--help'], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--testplug-served-as.*Served as driver digitalocean/);
    // A name Docker Machine never had is not sent there.
    const other = await machine(store, ['create', '-d', 'nosuchcore', '--help'], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(other.stdout).not.toMatch(/testplug/);
    // Rancher's fork, found the same way when docker-machine is absent.
    const rancher = await tempStore('machine-e2e-rancher-bin-');
    await sh('cp', [join(env.MACHINE_DRIVER_PATH!, 'docker-machine-driver-testplug'), join(rancher, 'rancher-machine')]);
    const r2 = await machine(store, ['create', '-d', 'exoscale', '--help'], { env: { PATH: `${rancher}:${process.env.PATH}` } });
    expect(r2.code).toBe(0);
    expect(r2.stdout).toMatch(/--testplug-served-as.*Served as driver exoscale/);
  });

  it('Ctrl-C during a plugin call ends the plugin at once, removes the machine and leaves no process', async () => {
    const r = await machineInterrupted(store, ['create', ...flags(), '--testplug-slow-create', 'plug5'], { env, when: /Creating slowly/ });
    expect(r.signalled).toBe(true);
    expect(r.code).toBe(130);
    // Not the minute the plugin's Create takes.
    expect(r.ms).toBeLessThan(30_000);
    expect(r.stderr).toMatch(/Interrupted: removed what creating "plug5" had made/);
    expect((await machine(store, ['ls', '-q'], { env })).stdout).not.toContain('plug5');
    expect((await sh('pgrep', ['-f', 'docker-machine-driver-testplug'])).stdout.trim()).toBe('');
  });

  it('a plugin that dies in the middle of create: rolled back, one line naming the binary', async () => {
    const r = await machine(store, ['create', ...flags(), '--testplug-die-in-create', 'plug2'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^The driver plugin .*docker-machine-driver-testplug stopped answering during Create \(it exited with code 3\)$/);
    expect((await machine(store, ['ls', '-q'], { env })).stdout).not.toContain('plug2');
  });

  it('a plugin that never prints its address, and a driver with no plugin at all, are one clear line each', async () => {
    const r = await machine(store, ['create', ...flags(), 'plug3'], { env: { ...env, TESTPLUG_NEVER_LISTEN: '1' } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^The driver plugin .*docker-machine-driver-testplug did not print its address within 10 s/);
    const missing = await machine(store, ['create', '-d', 'nosuchplug', 'plug4'], { env });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/Driver "nosuchplug" not found.*docker-machine-driver-nosuchplug \(MACHINE_DRIVER_PATH, then PATH\)/);
    expect((await machine(store, ['ls', '-q'], { env })).stdout.trim()).toBe('');
  });
});
