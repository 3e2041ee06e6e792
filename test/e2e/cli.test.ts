import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { machine, tempStore } from '../helpers/cli.js';
import { sh } from '../harness/exec.js';
import { copyLegacyStore } from '../helpers/fixture.js';

const legacyStore = () => copyLegacyStore();

/** One line on stderr, exit 1: what scripts and people rely on. */
function expectOneLineError(r: { code: number; stderr: string; stdout: string }, text: string | RegExp) {
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  if (typeof text === 'string') expect(r.stderr).toContain(text);
  else expect(r.stderr).toMatch(text);
}

describe('CLI against a store (no hosts needed)', () => {
  it('names an unknown machine as Docker Machine does', async () => {
    const store = await tempStore();
    for (const cmd of ['env', 'inspect', 'config', 'url', 'ip', 'status', 'ssh', 'provision']) {
      const r = await machine(store, [cmd, 'nope']);
      expectOneLineError(r, 'Docker machine "nope" does not exist. Use "machine ls" to list machines. Use "machine create" to add a new one.');
    }
    const rm = await machine(store, ['rm', '-y', 'nope']);
    expectOneLineError(rm, 'Docker machine "nope" does not exist');
  });

  it('rejects invalid names, duplicates, missing flags and unknown drivers without touching the store', async () => {
    const store = await tempStore();
    expectOneLineError(await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376', 'bad name!']), /Invalid hostname specified/);
    expectOneLineError(await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376', '_under']), /Invalid hostname specified/);
    expect(existsSync(join(store, 'machines'))).toBe(false);

    const ok = await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376', 'dup']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expectOneLineError(await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376', 'dup']), 'Docker machine "dup" already exists');

    expectOneLineError(await machine(store, ['create', '-d', 'generic', 'noip']), 'generic driver requires the --generic-ip-address option');
    expect(existsSync(join(store, 'machines', 'noip'))).toBe(false);
    expectOneLineError(await machine(store, ['create', '-d', 'nosuch', 'x']), /Driver "nosuch" not found/);
    expectOneLineError(await machine(store, ['create', '-d', 'none', '--bogus', 'x']), /flag provided but not defined: --bogus/);
    expectOneLineError(await machine(store, ['create', '-d', 'none', '--swarm-master', 'x']), /retired standalone Swarm.*--swarm-init/);
    expectOneLineError(await machine(store, ['bogus']), /'bogus' is not a machine command/);
    expect((await machine(store, ['ls', '-q'])).stdout.trim()).toBe('dup');
  });

  it('reports a corrupt config.json by name in ls, and as one line elsewhere', async () => {
    const store = await tempStore();
    await mkdir(join(store, 'machines', 'broken'), { recursive: true });
    await writeFile(join(store, 'machines', 'broken', 'config.json'), '{ not json');
    const ls = await machine(store, ['ls']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/broken\s+-\s+Error\s+.*Invalid machine config .*broken\/config\.json/);
    expectOneLineError(await machine(store, ['inspect', 'broken']), /Invalid machine config .*broken\/config\.json: not valid JSON.*rm -f/);
    // Without -f the record stays; with -f it goes.
    expect((await machine(store, ['rm', '-y', 'broken'])).code).toBe(1);
    expect(existsSync(join(store, 'machines', 'broken'))).toBe(true);
    expect((await machine(store, ['rm', '-f', 'broken'])).code).toBe(0);
    expect(existsSync(join(store, 'machines', 'broken'))).toBe(false);
  });

  it('works on the Docker Machine 0.16.2 store: ls, inspect, config, env, rm', async () => {
    const store = await legacyStore();
    const ls = await machine(store, ['ls', '--timeout', '3']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^legacy-generic\s+-\s+generic\s+\w+/m);
    expect(ls.stdout).toMatch(/^legacy-none\s+-\s+none\s+Running\s+tcp:\/\/127\.0\.0\.1:2376/m);

    const key = await machine(store, ['inspect', '-f', '{{.Driver.SSHKeyPath}} {{.HostOptions.AuthOptions.CaCertPath}}', 'legacy-generic']);
    expect(key.stdout.trim()).toBe(`${store}/machines/legacy-generic/key ${store}/certs/ca.pem`);
    const json = await machine(store, ['inspect', 'legacy-generic']);
    expect(JSON.parse(json.stdout).HostOptions.EngineOptions.InsecureRegistry).toEqual(['registry.local:5000']);

    for (const cmd of ['env', 'config']) {
      const r = await machine(store, [cmd, 'legacy-generic']);
      expectOneLineError(r, /valid for .*10\.213\.0\.2.*not 127\.0\.0\.2.*regenerate-certs legacy-generic/);
    }

    const env = await machine(store, ['env', '--shell', 'bash', 'legacy-none']);
    expect(env.code).toBe(0);
    expect(env.stdout).toContain('export DOCKER_HOST="tcp://127.0.0.1:2376"');
    // The none driver's engine was never provisioned: the store's own client pair, which exists.
    expect(env.stdout).toContain(`export DOCKER_CERT_PATH="${store}/certs"`);
    expect(env.stdout).toContain('export DOCKER_MACHINE_NAME="legacy-none"');

    const rm = await machine(store, ['rm', '-y', 'legacy-none']);
    expect(rm.stdout).toContain('Successfully removed legacy-none');
    expect((await machine(store, ['ls', '-q'])).stdout.trim()).toBe('legacy-generic');
  });

  it('prints env for every shell, and --unset', async () => {
    const store = await tempStore();
    await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376', 'sh1']);
    const out = async (shell: string, extra: string[] = []) => (await machine(store, ['env', '--shell', shell, ...extra, 'sh1'])).stdout;
    expect(await out('bash')).toMatch(/^export DOCKER_TLS_VERIFY="1"\nexport DOCKER_HOST="tcp:\/\/127\.0\.0\.1:2376"\n/);
    expect(await out('bash')).toContain('# eval $(machine env');
    expect(await out('fish')).toContain('set -gx DOCKER_HOST "tcp://127.0.0.1:2376";');
    expect(await out('powershell')).toContain('$Env:DOCKER_HOST = "tcp://127.0.0.1:2376"');
    expect(await out('cmd')).toContain('SET DOCKER_HOST=tcp://127.0.0.1:2376');
    expect(await out('tcsh')).toContain('setenv DOCKER_HOST "tcp://127.0.0.1:2376";');
    expect(await out('emacs')).toContain('(setenv "DOCKER_HOST" "tcp://127.0.0.1:2376")');
    expect(await out('bash', ['--no-proxy'])).toContain('export NO_PROXY="127.0.0.1"');
    const unset = await machine(store, ['env', '-u']);
    expect(unset.stdout).toMatch(/^unset DOCKER_TLS_VERIFY\nunset DOCKER_HOST\nunset DOCKER_CERT_PATH\nunset DOCKER_MACHINE_NAME\n/);
    // A real bash can evaluate it.
    const { bash, machineCmd } = await import('../helpers/cli.js');
    const b = await bash(`eval "$(${machineCmd(store)} env sh1)"; echo "$DOCKER_HOST $DOCKER_MACHINE_NAME"`, { SHELL: '/bin/bash' });
    expect(b.stdout.trim()).toBe('tcp://127.0.0.1:2376 sh1');
  });

  it('loads a driver plugin from MACHINE_DRIVER_PATH, with its own flags', async () => {
    const store = await tempStore();
    const env = { MACHINE_DRIVER_PATH: join(import.meta.dirname, '..', '..', 'examples') };
    const help = await machine(store, ['create', '-d', 'static', '--help'], { env });
    expect(help.stdout).toContain('--static-url');
    const missing = await machine(store, ['create', '-d', 'static', 'p0'], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('--static-url is required');
    const made = await machine(store, ['create', '-d', 'static', '--static-url', 'tcp://127.0.0.1:2376', 'p1'], { env });
    expect(made.stderr).toBe('');
    const ls = await machine(store, ['ls', '--format', '{{.Name}} {{.DriverName}} {{.State}} {{.URL}}'], { env });
    expect(ls.stdout.trim()).toBe('p1 static Running tcp://127.0.0.1:2376');
    const unknown = await machine(store, ['create', '-d', 'static', 'p2']);
    expect(unknown.stderr).toContain('Driver "static" not found');
  });

  it("prints a plugin's own errors as its one line, and names the plugin when it crashes", async () => {
    // A plugin's Error is its message to the user, not a bug of machine's to report; a
    // TypeError inside it is the plugin's bug, named as such, its stack under --debug.
    const store = await tempStore();
    const dir = join(store, 'plugins');
    await mkdir(dir);
    const example = await readFile(join(import.meta.dirname, '..', '..', 'examples', 'machine-driver-static.mjs'), 'utf8');
    await writeFile(join(dir, 'machine-driver-static.mjs'), example);
    // The same driver whose kill has a bug.
    await writeFile(join(dir, 'machine-driver-crashy.mjs'), example.replace(/name: 'static'/g, "name: 'crashy'").replace("kill: unsupported('kill'),", 'kill: async () => cfg.nothing.here(),'));
    const env = { MACHINE_DRIVER_PATH: dir };
    expect(await machine(store, ['create', '-d', 'static', 'p0'], { env })).toMatchObject({ code: 1, stderr: '--static-url is required\n' });
    expect((await machine(store, ['create', '-d', 'static', '--static-url', 'tcp://127.0.0.1:2376', 'p1'], { env })).code).toBe(0);
    const stop = await machine(store, ['stop', 'p1'], { env });
    expect({ code: stop.code, last: stop.stderr.trim().split('\n').pop() }).toEqual({ code: 1, last: 'the static driver cannot stop a machine' });
    expect((await machine(store, ['create', '-d', 'crashy', '--static-url', 'tcp://127.0.0.1:2376', 'c1'], { env })).code).toBe(0);
    const kill = await machine(store, ['kill', 'c1'], { env });
    expect(kill.code).toBe(1);
    expect(kill.stderr.trim().split('\n').pop()).toBe(
      `Driver plugin "crashy" failed: TypeError: Cannot read properties of undefined (reading 'here') (a bug in the plugin, ${join(dir, 'machine-driver-crashy.mjs')}: run again with --debug for its stack)`,
    );
    const debug = await machine(store, ['--debug', 'kill', 'c1'], { env });
    expect(debug.stderr).toMatch(/\(debug\).* cause: TypeError: Cannot read properties of undefined \(reading 'here'\)\n\s+at .*machine-driver-crashy\.mjs/);
  });

  it('active probes only the machines that can be the active one', async () => {
    // A shell prompt runs `active` every time: a generic machine whose recorded URL is not
    // DOCKER_HOST cannot be active, whatever its state, and is not even asked.
    const store = await legacyStore();
    let probes = 0;
    const listener = createServer((c) => {
      probes++;
      c.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    try {
      const cfgPath = join(store, 'machines', 'legacy-generic', 'config.json');
      const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as { Driver: Record<string, unknown> };
      cfg.Driver['IPAddress'] = '127.0.0.1';
      cfg.Driver['SSHPort'] = (listener.address() as AddressInfo).port;
      // Not legacy-none's URL (tcp://127.0.0.1:2376).
      cfg.Driver['EnginePort'] = 12376;
      await writeFile(cfgPath, JSON.stringify(cfg));
      const other = await machine(store, ['active'], { env: { DOCKER_HOST: 'tcp://127.0.0.1:2376' } });
      expect(other.stdout.trim()).toBe('legacy-none');
      expect(probes).toBe(0);
      // The one it can be is asked, as before: its SSH port answers, so it is Running and active.
      const url = (await machine(store, ['url', 'legacy-generic'])).stdout.trim();
      const it = await machine(store, ['active'], { env: { DOCKER_HOST: url } });
      expect(it.stdout.trim()).toBe('legacy-generic');
      expect(probes).toBe(1);
    } finally {
      listener.close();
    }
  });

  it('names the package to install when QEMU is missing, and makes nothing', async () => {
    const store = await tempStore();
    const r = await machine(store, ['create', '-d', 'qemu', '--qemu-binary', 'qemu-system-nonexistent', 'vmx']);
    // A failed pre-create check: Docker Machine's exit code 3.
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe(
      'qemu-system-nonexistent not found: install QEMU (Debian/Ubuntu: apt-get install qemu-system-x86 qemu-utils; Fedora: dnf install qemu-kvm qemu-img; macOS: brew install qemu)',
    );
    expect(existsSync(join(store, 'machines', 'vmx'))).toBe(false);
  });

  it('accepts exactly what a hostname accepts, and validates names before touching the file system', async () => {
    const store = await tempStore();
    const none = ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376'];
    expectOneLineError(await machine(store, [...none, 'a_b']), /Invalid hostname specified.*0-9a-zA-Z \. -/);
    expectOneLineError(await machine(store, [...none, 'x'.repeat(64)]), /Invalid hostname specified.*at most 63/);
    expect((await machine(store, [...none, 'y'.repeat(63)])).code).toBe(0);
    // A name that climbs out of the store is refused before anything is written.
    const nested = join(await tempStore(), 'a', 'b');
    const rm = await machine(nested, ['rm', '-f', '../../x']);
    expectOneLineError(rm, /Invalid hostname specified/);
    expect(existsSync(join(nested, '..', 'x'))).toBe(false);
    expect(existsSync(join(nested, '..', '..', 'x'))).toBe(false);
    for (const cmd of ['env', 'inspect', 'stop', 'provision']) expectOneLineError(await machine(store, [cmd, '../x']), /Invalid hostname specified/);
  });

  it("answers like Docker Machine: env -u with a name, ssh's own --help, pre-create exit 3, refused confirmations", async () => {
    const store = await tempStore();
    expect((await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376', 'dup'])).code).toBe(0);
    expectOneLineError(await machine(store, ['env', '-u', 'dup']), 'Expected no machine name when the -u flag is present');
    // --help after the machine name belongs to the remote command, with or without --.
    expectOneLineError(await machine(store, ['ssh', 'nosuch', 'ls', '--help']), 'Docker machine "nosuch" does not exist');
    expectOneLineError(await machine(store, ['ssh', 'nosuch', '--', 'ls', '--help']), 'Docker machine "nosuch" does not exist');
    const pre = await machine(store, ['create', '-d', 'generic', '--generic-ip-address', '127.0.0.1', '--generic-ssh-key', '/nonexistent', 'pc']);
    expect(pre.code).toBe(3);
    expect(pre.stderr.trim()).toBe('SSH key "/nonexistent" does not exist: pass an existing private key with --generic-ssh-key');
    expect(existsSync(join(store, 'machines', 'pc'))).toBe(false);
    for (const input of ['n\n', '']) {
      const rm = await machine(store, ['rm', 'dup'], { input });
      expect(rm.code).toBe(1);
      expect(rm.stderr.trim()).toBe('Aborting removal: nothing was changed');
      const regen = await machine(store, ['regenerate-certs', 'dup'], { input });
      expect(regen.code).toBe(1);
      expect(regen.stderr.trim()).toBe('Aborting: no certificate was changed');
    }
    expect((await machine(store, ['ls', '-q'])).stdout.trim()).toBe('dup');
  });

  it('none driver: env points at certificates that exist, and a non-TLS URL gets no TLS variables', async () => {
    const store = await tempStore();
    expect((await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376', 'tls'])).code).toBe(0);
    expect((await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2375', 'plain'])).code).toBe(0);
    const env = await machine(store, ['env', '--shell', 'bash', 'tls']);
    const certDir = /DOCKER_CERT_PATH="([^"]+)"/.exec(env.stdout)?.[1] ?? '';
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) expect(existsSync(join(certDir, f)), `${certDir}/${f}`).toBe(true);
    const plain = await machine(store, ['env', '--shell', 'bash', 'plain']);
    expect(plain.stdout).toContain('export DOCKER_HOST="tcp://127.0.0.1:2375"');
    expect(plain.stdout).not.toMatch(/DOCKER_TLS_VERIFY="1"|DOCKER_CERT_PATH=/);
    const ls = await machine(store, ['ls', '-t', '2']);
    expect(ls.stdout).not.toContain('ENOENT');
  });

  it('says what to fix, in one line, where Node errors leaked before', async () => {
    const store = await tempStore();
    expectOneLineError(await machine('/etc/passwd', ['ls']), /Storage path \/etc\/passwd is not a directory: .*--storage-path/);
    const dirKey = await machine(store, ['create', '-d', 'generic', '--generic-ip-address', '127.0.0.1', '--generic-ssh-key', '/tmp', 'k1']);
    expect(dirKey.code).toBe(3);
    expect(dirKey.stderr.trim()).toBe('SSH key "/tmp" is a directory: pass a private key file with --generic-ssh-key');
    for (const [flag, value] of [['--generic-ssh-port', '70000'], ['--generic-engine-port', '0']]) {
      const r = await machine(store, ['create', '-d', 'generic', '--generic-ip-address', '127.0.0.1', '--generic-ssh-key', '/nonexistent', flag!, value!, 'p1']);
      expectOneLineError(r, `${flag} takes a port from 1 to 65535, not "${value}"`);
    }
    expectOneLineError(await machine(store, ['create', '-d', 'generic', '--generic-ip-address', '999.1.1.1', 'p2']), '--generic-ip-address "999.1.1.1" is not an IP address or host name');
    expectOneLineError(await machine(store, ['ls', '--filter', 'name=(']), /--filter name=\( is not a valid regular expression/);
    expect(existsSync(join(store, 'machines'))).toBe(false);
  });

  it('regenerate-certs --client-certs run side by side never leaves a client pair from another CA; a mismatched pair is one line at create', async () => {
    const store = await tempStore();
    expect((await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376', 'n1'])).code).toBe(0);
    const verify = () => sh('openssl', ['verify', '-CAfile', join(store, 'certs', 'ca.pem'), join(store, 'certs', 'cert.pem')]);
    for (let round = 0; round < 5; round++) {
      await Promise.all([1, 2, 3].map(() => machine(store, ['regenerate-certs', '--client-certs', '-f', 'n1'])));
      const v = await verify();
      expect(v.stdout.trim(), `round ${round}: ${v.stderr}`).toBe(`${join(store, 'certs', 'cert.pem')}: OK`);
    }
    expect((await readdir(join(store, 'certs'))).sort()).toEqual(['ca-key.pem', 'ca.pem', 'cert.pem', 'key.pem']);

    const other = await tempStore();
    expect((await machine(other, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376', 'o1'])).code).toBe(0);
    await cp(join(other, 'certs', 'cert.pem'), join(store, 'certs', 'cert.pem'));
    const r = await machine(store, ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376', 'n2']);
    expectOneLineError(r, `The client certificate ${join(store, 'certs', 'cert.pem')} was not signed by the CA ${join(store, 'certs', 'ca.pem')}: restore the pair that belongs together, or run "machine regenerate-certs --client-certs -f MACHINE..." for every machine`);
    expect(existsSync(join(store, 'machines', 'n2'))).toBe(false);
  });

  it('keeps one overall deadline against a host that accepts TCP and never answers (ls -t, version)', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    try {
      const store = await legacyStore();
      const file = join(store, 'machines', 'legacy-generic', 'config.json');
      const cfg = JSON.parse(await readFile(file, 'utf8'));
      Object.assign(cfg.Driver, { IPAddress: '127.0.0.1', SSHPort: port, EnginePort: port });
      await writeFile(file, JSON.stringify(cfg));
      // The deadline is the bound; an idle timer armed twice took twice as long (8 s and 20 s).
      const ls = await machine(store, ['ls', '-t', '4', '--filter', 'name=legacy-generic']);
      expect(ls.stdout).toMatch(/legacy-generic .*Running .*no answer from 127\.0\.0\.1:\d+ within/);
      expect(ls.ms).toBeLessThan(7_000);
      const v = await machine(store, ['version', 'legacy-generic']);
      expectOneLineError(v, /no answer from 127\.0\.0\.1:\d+ within 10000 ms/);
      expect(v.ms).toBeLessThan(16_000);
    } finally {
      silent.close();
    }
  });

  it('says how to finish or remove a half-made machine; refuses a bad --swarm-role and a negative number where none fits', async () => {
    const store = await legacyStore();
    // A create that crashed before provisioning leaves a record and no server certificate.
    await rm(join(store, 'machines', 'legacy-generic', 'server.pem'));
    for (const cmd of ['env', 'config']) {
      expectOneLineError(await machine(store, [cmd, 'legacy-generic']), `Machine "legacy-generic" was not fully created (it has no server certificate, ${join(store, 'machines', 'legacy-generic', 'server.pem')}): run "machine provision legacy-generic" to finish it, or "machine rm legacy-generic"`);
    }
    const none = ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376'];
    expectOneLineError(await machine(store, [...none, '--swarm-role', 'boss', 'r1']), '--swarm-role must be worker or manager, not "boss"');
    expectOneLineError(await machine(store, ['create', '-d', 'generic', '--generic-ip-address', '127.0.0.1', '--generic-ssh-port', '-5', 'r2']), '--generic-ssh-port takes a whole number, not "-5"');
    expectOneLineError(await machine(store, ['ls', '-t', '-5']), 'invalid --timeout "-5": give seconds, e.g. 10');
    expectOneLineError(await machine(store, ['-5']), 'flag provided but not defined: -5 (see "machine --help")');
    expect(existsSync(join(store, 'machines', 'r1'))).toBe(false);
  });
});
