import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestHost, makeTestKey, makeTinyImageTar, type TestHost } from '../harness/hosts.js';
import { bash, machine, machineCmd, machineInterrupted, tempStore } from '../helpers/cli.js';
import { copyLegacyStore } from '../helpers/fixture.js';
import { tlsSessionsFile } from '../../src/store/paths.js';

const skipReason = inject('e2eSkipReason');
const cacheDir = process.env.MACHINE_TEST_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'machine-test');

/** `eval "$(machine env NAME)"` then the script, as a user types it. */
function withEnv(store: string, name: string, script: string) {
  return bash(`set -e; eval "$(${machineCmd(store)} env --shell bash ${name})"; ${script}`);
}

/** The /etc/hosts lines that map `name` (comments ignored). */
function hostsLinesNaming(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.replace(/#.*/, '').trim().split(/\s+/).slice(1).includes(name));
}

describe.skipIf(skipReason)(`generic driver on real container hosts${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const dockerHost = inject('dockerHost');
  const image = inject('hostImage');
  let work: string;
  let store: string;
  let key: string;
  let host: TestHost;
  let tinyTar: string;
  let hostsBefore: string;
  const upgradeNetwork = 'machine-e2e-upgrade';

  beforeAll(async () => {
    work = await tempStore('machine-e2e-generic-');
    store = join(work, 'store');
    key = await makeTestKey(work);
    host = await createTestHost({ dockerHost, image, name: 'e2e-generic-1', keyPath: key });
    // An entry of the host's own, which provisioning must leave alone.
    await host.exec(`echo '192.0.2.10 db.internal db' >> /etc/hosts`);
    hostsBefore = (await host.exec('cat /etc/hosts')).stdout;
    tinyTar = await makeTinyImageTar(cacheDir);
  });

  afterAll(async () => {
    await host?.remove();
    // The docker-driver machine of the upgrade test, if that test failed before its rm.
    if (store) await machine(store, ['rm', '-f', '-y', 'gup-dk']);
    if (dockerHost) await bash(`docker -H ${dockerHost} network rm ${upgradeNetwork} >/dev/null 2>&1 || true`);
    if (work) await rm(work, { recursive: true, force: true });
  });

  const createArgs = (name: string, extra: string[] = []) => [
    'create',
    '-d',
    'generic',
    '--engine-install-url',
    'distro',
    '--generic-ip-address',
    host.ip,
    '--generic-ssh-key',
    key,
    '--generic-ssh-user',
    'root',
    ...extra,
    name,
  ];

  it('creates a TLS engine on a fresh host without Docker, usable through env', async () => {
    expect((await host.exec('command -v dockerd')).code).not.toBe(0);
    const r = await machine(store, createArgs('gm1', ['--engine-label', 'env=e2e', '--tls-san', 'gm1.example.test']));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Installing Docker from the distribution's packages/);
    expect(r.stdout).toMatch(/\[\s*\d+\.\d+s\] Docker is up and running!/);
    expect(r.stdout).toContain('machine env gm1');

    const info = await withEnv(store, 'gm1', 'docker info --format "{{.Name}} {{json .Labels}}"');
    expect(info.stderr).toBe('');
    expect(info.stdout).toContain('gm1');
    expect(info.stdout).toContain('env=e2e');
    expect(info.stdout).toContain('provider=generic');

    const run = await withEnv(
      store,
      'gm1',
      `docker import ${tinyTar} e2e-tiny:1 >/dev/null && docker run --rm e2e-tiny:1 /bin/busybox echo hello-from-gm1`,
    );
    expect(run.stdout.trim()).toBe('hello-from-gm1');

    // Keys and certificates stay private.
    for (const f of ['id_rsa', 'key.pem', 'server-key.pem']) {
      const { statSync } = await import('node:fs');
      expect(statSync(join(store, 'machines', 'gm1', f)).mode & 0o777).toBe(0o600);
    }
    expect(await readFile(join(store, 'machines', 'gm1', 'config.json'), 'utf8')).not.toMatch(/PRIVATE KEY/);
  });

  it('keeps exactly one /etc/hosts line for the machine however often it is provisioned, and leaves the rest alone', async () => {
    // Twice as is, then twice after the host's name was changed behind machine's back (an
    // admin, or cloud-init on boot), which provision puts back.
    for (const drift of [false, false, true, true]) {
      if (drift) expect((await host.exec('hostname e2e-generic-1')).code).toBe(0);
      const p = await machine(store, ['provision', 'gm1']);
      expect(p.stderr).toBe('');
      expect(p.code).toBe(0);
    }
    expect((await host.exec('hostname')).stdout.trim()).toBe('gm1');
    const hosts = (await host.exec('cat /etc/hosts')).stdout;
    expect(hostsLinesNaming(hosts, 'gm1')).toEqual([expect.stringMatching(/^127\.0\.1\.1\s+gm1$/)]);
    const others = (text: string) => text.split('\n').filter((l) => !hostsLinesNaming(l, 'gm1').length);
    expect(others(hosts)).toEqual(others(hostsBefore));
    expect(hosts).toContain('192.0.2.10 db.internal db\n');
  });

  it('lists the machine Running with its engine version', async () => {
    const r = await machine(store, ['ls']);
    expect(r.code).toBe(0);
    const [header, row] = r.stdout.trim().split('\n');
    expect(header).toMatch(/^NAME\s+ACTIVE\s+DRIVER\s+STATE\s+URL\s+SWARM\s+DOCKER\s+ERRORS$/);
    expect(row).toMatch(new RegExp(`^gm1\\s+-\\s+generic\\s+Running\\s+tcp://${host.ip.replace(/\./g, '\\.')}:2376\\s+v\\d+\\.\\d+`));
    const active = await machine(store, ['ls', '--format', '{{.Name}} {{.Active}} {{.State}}'], {
      env: { DOCKER_HOST: `tcp://${host.ip}:2376` },
    });
    expect(active.stdout.trim()).toBe('gm1 * Running');
    expect((await machine(store, ['ls', '-q', '--filter', 'driver=generic'])).stdout.trim()).toBe('gm1');
    expect((await machine(store, ['ls', '-q', '--filter', 'state=Stopped'])).stdout.trim()).toBe('');
    expect((await machine(store, ['ls', '-q', '--filter', 'label=env=e2e'])).stdout.trim()).toBe('gm1');
    expect((await machine(store, ['status', 'gm1'])).stdout.trim()).toBe('Running');
    expect((await machine(store, ['ip', 'gm1'])).stdout.trim()).toBe(host.ip);
    expect((await machine(store, ['url', 'gm1'])).stdout.trim()).toBe(`tcp://${host.ip}:2376`);
    expect((await machine(store, ['active'], { env: { DOCKER_HOST: `tcp://${host.ip}:2376` } })).stdout.trim()).toBe('gm1');

    // ls asks the engine beside the state, but the driver's state decides, as in Docker
    // Machine: with sshd down and the engine up, the machine reads Stopped, without a version.
    await host.exec('systemctl stop ssh.socket ssh.service 2>/dev/null; true');
    try {
      const down = await machine(store, ['ls', '--format', '{{.Name}} {{.State}} {{.URL}} {{.DockerVersion}} {{.Error}}']);
      expect(down.stdout.trim()).toBe('gm1 Stopped  Unknown');
    } finally {
      await host.exec('systemctl start ssh.socket ssh.service 2>/dev/null; systemctl start ssh; true');
    }
    const back = await machine(store, ['ls', '--format', '{{.Name}} {{.State}} {{.DockerVersion}}']);
    expect(back.stdout.trim()).toMatch(/^gm1 Running v\d+\.\d+/);
  });

  it("ls resumes its TLS session with dockerd, and offers a recent one again without rewriting it", async () => {
    // dockerd (Go) sends a new ticket after every handshake, resumed ones too; ls keeps a
    // session for an hour without asking for those (src/engine/tls-sessions.ts).
    const engineCall = async () => {
      const r = await machine(store, ['--debug', 'ls', '--format', '{{.Name}} {{.State}}']);
      expect(r.stdout.trim()).toBe('gm1 Running');
      return r.stderr.split('\n').find((l) => l.includes('engine-api: GET')) ?? '(no engine call)';
    };
    expect(await engineCall()).toMatch(/-> 200 /);
    const kept = await readFile(tlsSessionsFile(store), 'utf8');
    for (let i = 0; i < 2; i++) {
      expect(await engineCall()).toMatch(/-> 200 \(\d+ ms, resumed\)$/);
      expect(await readFile(tlsSessionsFile(store), 'utf8')).toBe(kept);
    }
  });

  it('ls of as many machines on one host as it asks early says each is Running, with its version', async () => {
    // 30 more records for the same host: ls asks their engines beside their state checks
    // (twice the connections, the most its fan-out allows), and none may read Stopped for it.
    const base = JSON.parse(await readFile(join(store, 'machines', 'gm1', 'config.json'), 'utf8')) as {
      Name: string;
      Driver: Record<string, unknown>;
      HostOptions: { AuthOptions: Record<string, unknown> };
    };
    const names = Array.from({ length: 30 }, (_, i) => `gmc${i}`);
    try {
      for (const name of names) {
        const dir = join(store, 'machines', name);
        await cp(join(store, 'machines', 'gm1'), dir, { recursive: true });
        const cfg = structuredClone(base);
        cfg.Name = name;
        cfg.Driver['MachineName'] = name;
        cfg.Driver['SSHKeyPath'] = join(dir, 'id_rsa');
        const auth = cfg.HostOptions.AuthOptions;
        for (const k of ['StorePath', 'ServerCertPath', 'ServerKeyPath']) auth[k] = String(auth[k]).replace(join(store, 'machines', 'gm1'), dir);
        await writeFile(join(dir, 'config.json'), JSON.stringify(cfg, null, 4));
      }
      const r = await machine(store, ['ls', '--filter', 'name=^gm', '--format', '{{.Name}} {{.State}} {{.DockerVersion}} {{.Error}}']);
      expect(r.stderr).toBe('');
      const rows = r.stdout.trim().split('\n');
      expect(rows).toHaveLength(31);
      for (const row of rows) expect(row).toMatch(/^gmc?\d+ Running v\d+\.\d+\S*\s*$/);
    } finally {
      for (const name of names) await rm(join(store, 'machines', name), { recursive: true, force: true });
    }
  });

  it('config prints flags the docker CLI accepts', async () => {
    const r = await machine(store, ['config', 'gm1']);
    expect(r.code).toBe(0);
    const flags = r.stdout.trim().split('\n').join(' ');
    const v = await bash(`docker ${flags} version --format '{{.Server.Version}}'`);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+/);
  });

  it('runs commands and copies files over SSH both ways', async () => {
    const r = await machine(store, ['ssh', 'gm1', '--', 'hostname']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('gm1');
    const native = await machine(store, ['--native-ssh', 'ssh', 'gm1', 'echo', 'native-$((1+1))']);
    expect(native.stdout.trim()).toBe('native-2');
    const exit = await machine(store, ['ssh', 'gm1', 'exit 7']);
    expect(exit.code).toBe(7);

    const local = join(work, 'up.txt');
    await writeFile(local, 'payload-1\n');
    expect((await machine(store, ['scp', local, 'gm1:/tmp/up.txt'])).code).toBe(0);
    expect((await host.exec('cat /tmp/up.txt')).stdout).toBe('payload-1\n');
    await host.exec('mkdir -p /tmp/tree/sub && echo deep > /tmp/tree/sub/f.txt');
    const back = join(work, 'tree-back');
    const d = await machine(store, ['scp', '-r', 'gm1:/tmp/tree', back]);
    expect(d.stderr).toBe('');
    expect(await readFile(join(back, 'sub', 'f.txt'), 'utf8')).toBe('deep\n');
  });

  it('keeps working after regenerate-certs -f, with a new server certificate', async () => {
    const before = await readFile(join(store, 'machines', 'gm1', 'server.pem'), 'utf8');
    // Files half-written by an interrupted provisioning, one world-readable where the key goes:
    // the key must still end up readable by root only.
    await host.exec('umask 000; echo stale > /etc/docker/server-key.pem.machine-tmp; echo stale > /etc/docker/server.pem.machine-tmp; chmod 600 /etc/docker/server.pem.machine-tmp');
    const r = await machine(store, ['regenerate-certs', '-f', 'gm1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const after = await readFile(join(store, 'machines', 'gm1', 'server.pem'), 'utf8');
    expect(after).not.toBe(before);
    const remote = await host.exec('cat /etc/docker/server.pem');
    expect(remote.stdout).toBe(after);
    const modes = await host.exec('cd /etc/docker && stat -c "%n %a" ca.pem server.pem server-key.pem /etc/systemd/system/docker.service.d/10-machine.conf; ls -a /etc/docker /etc/systemd/system/docker.service.d | grep -c machine-tmp');
    expect(modes.stdout.trim().split('\n')).toEqual(['ca.pem 644', 'server.pem 644', 'server-key.pem 600', '/etc/systemd/system/docker.service.d/10-machine.conf 644', '0']);
    const info = await withEnv(store, 'gm1', 'docker version --format "{{.Server.Version}}"');
    expect(info.code).toBe(0);
  });

  it("upgrade upgrades the engine packages installed on a Debian host, and docker works right after", async () => {
    const r = await machine(store, ['upgrade', 'gm1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Upgrading docker \(docker\.io\)\.\.\./);
    expect(r.stdout).toContain('Restarting docker...');
    expect((await host.exec("dpkg-query -W -f='${Status}' docker.io")).stdout).toBe('install ok installed');
    const v = await withEnv(store, 'gm1', 'docker version --format "{{.Server.Version}}"');
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+/);
  });

  it('reports that a generic host cannot be stopped or started by the driver', async () => {
    const stop = await machine(store, ['stop', 'gm1']);
    expect(stop.code).toBe(1);
    expect(stop.stderr).toContain('generic driver does not support stop');
    const start = await machine(store, ['start', 'gm1']);
    // As stop does: the host is not machine's to power, whatever its state.
    expect(start.code).toBe(1);
    expect(start.stderr).toBe('generic driver does not support start\n');
    expect((await machine(store, ['status', 'gm1'])).stdout.trim()).toBe('Running');
  });

  it('a second create on a host with an engine does not reinstall, and replaces a broken Docker Machine drop-in', async () => {
    // Docker Machine 0.16 left exactly this on Debian hosts (see drivers-test-fixtures/docker-machine-0.16.2-store.SOURCES.md).
    await host.exec(
      `cat > /etc/systemd/system/docker.service.d/10-machine.conf <<'X'\n[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H tcp://0.0.0.0:2376 -H unix:///var/run/docker.sock --tlsverify\nX`,
    );
    const r = await machine(store, createArgs('gm2'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/Installing Docker/);
    const info = await withEnv(store, 'gm2', 'docker info --format "{{.Name}}"');
    expect(info.stdout.trim()).toBe('gm2');
    expect((await host.exec('cat /etc/systemd/system/docker.service.d/10-machine.conf')).stdout).toMatch(/ExecStart=\/usr\/sbin\/dockerd -H fd:\/\//);
    // Provisioning again changes nothing and does not restart the engine.
    const pid = (await host.exec('systemctl show -p MainPID --value docker')).stdout.trim();
    const again = await machine(store, ['provision', 'gm2']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('gm2: nothing to change');
    expect((await host.exec('systemctl show -p MainPID --value docker')).stdout.trim()).toBe(pid);
    const rm2 = await machine(store, ['rm', '-y', 'gm2']);
    expect(rm2.stdout).toContain('Successfully removed gm2');
  });

  it('refuses a host whose SSH host key changed since create', async () => {
    await host.exec('rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh');
    const r = await machine(store, ['provision', 'gm1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SSH host key for .* changed/);
    const s = await machine(store, ['ssh', 'gm1', 'true']);
    expect(s.code).not.toBe(0);
  });

  it('rm -y removes the machine and its files', async () => {
    const r = await machine(store, ['rm', '-y', 'gm1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Successfully removed gm1');
    expect(existsSync(join(store, 'machines', 'gm1'))).toBe(false);
    expect((await machine(store, ['ls', '-q'])).stdout.trim()).toBe('');
  });

  it("a create whose engine options dockerd refuses fails with dockerd's own reason, in one line", async () => {
    for (const [opt, reason] of [
      ['garbage', /unknown flag: --garbage|flag provided but not defined: -garbage/],
      ['log-level=nonsense', /unable to parse logging level: nonsense|unknown log level/i],
    ] as const) {
      const r = await machine(store, createArgs('gmbad', ['--engine-opt', opt]));
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(reason);
      // A ProvisionError's line, not an untyped "Error: ...".
      expect(lines[0]).not.toMatch(/^Error: /);
      expect(lines[0]).toMatch(/--engine-opt/);
      expect(existsSync(join(store, 'machines', 'gmbad'))).toBe(false);
    }
  });

  it("a failed create on a host whose engine serves another machine leaves that machine working and the host as it was", async () => {
    expect((await machine(store, createArgs('ga'))).code).toBe(0);
    const state = async () => (await host.exec(`hostname; sha256sum /etc/hosts /etc/hostname /etc/docker/ca.pem /etc/docker/server.pem /etc/docker/server-key.pem /etc/systemd/system/docker.service.d/10-machine.conf; systemctl is-active docker`)).stdout;
    const before = await state();
    // dockerd refuses the option: the create fails after naming the host, writing its
    // certificates and drop-in and restarting the engine.
    const r = await machine(store, createArgs('gb', ['--engine-opt', 'log-level=nonsense']));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toContain('Restoring what provisioning changed on the host...');
    expect(existsSync(join(store, 'machines', 'gb'))).toBe(false);
    expect(await state()).toBe(before);
    const v = await withEnv(store, 'ga', `docker info --format '{{.Name}}'`);
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toBe('ga');
    // Nothing of the failed create is left on the host.
    expect((await host.exec('ls /var/lib/machine 2>/dev/null | wc -l')).stdout.trim()).toBe('0');
    expect((await machine(store, ['rm', '-y', 'ga'])).code).toBe(0);
  });

  it('Ctrl-C during the engine install rolls back once, puts the host back, and says cleanup worked', async () => {
    const fresh = await createTestHost({ dockerHost, image, name: 'e2e-generic-ctrlc', keyPath: key });
    try {
      const before = (await fresh.exec('hostname; cat /etc/hosts')).stdout;
      const args = createArgs('gint').map((a) => (a === host.ip ? fresh.ip : a));
      const r = await machineInterrupted(store, args, { when: /Installing Docker from the distribution's packages/ });
      expect(r.signalled).toBe(true);
      expect(r.code).toBe(130);
      // One rollback, and no claim that it failed.
      expect(r.stdout.match(/removing what creating "gint" made/g)).toHaveLength(1);
      expect(r.stderr + r.stdout).not.toMatch(/cleanup failed|removing the half-made machine failed/i);
      expect(r.stderr.trim().split('\n').pop()).toBe('Interrupted: removed what creating "gint" had made');
      expect(existsSync(join(store, 'machines', 'gint'))).toBe(false);
      expect((await fresh.exec('hostname; cat /etc/hosts')).stdout).toBe(before);
      expect((await fresh.exec('test -e /etc/systemd/system/docker.service.d/10-machine.conf; echo $?')).stdout.trim()).toBe('1');
    } finally {
      await fresh.remove();
    }
  });

  it('says in one line that the host refused its new name, and leaves the host as it was', async () => {
    // hostname that reads but will not set, and no hostnamectl: as on a host whose policy forbids renaming.
    const fake = `printf '#!/bin/sh\\n[ $# -eq 0 ] && exec /bin/hostname\\necho "hostname: you must be root to change the host name" >&2\\nexit 1\\n' > /usr/local/sbin/hostname; printf '#!/bin/sh\\nexit 1\\n' > /usr/local/sbin/hostnamectl; chmod 755 /usr/local/sbin/hostname /usr/local/sbin/hostnamectl`;
    expect((await host.exec(fake)).code).toBe(0);
    try {
      const before = (await host.exec('hostname; cat /etc/hostname /etc/hosts')).stdout;
      const r = await machine(store, createArgs('gname'));
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        'Naming the host "gname" failed (exit 1): hostname: you must be root to change the host name; the host must let hostname (or hostnamectl) and a write to /etc/hosts succeed',
      ]);
      expect((await host.exec('hostname; cat /etc/hostname /etc/hosts')).stdout).toBe(before);
      expect(existsSync(join(store, 'machines', 'gname'))).toBe(false);
    } finally {
      await host.exec('rm -f /usr/local/sbin/hostname /usr/local/sbin/hostnamectl');
    }
  });

  it('says that a user without passwordless sudo needs it, in one line, and changes nothing', async () => {
    await host.exec('id nosudo >/dev/null 2>&1 || useradd -m -s /bin/bash nosudo; mkdir -p ~nosudo/.ssh; cp /root/.ssh/authorized_keys ~nosudo/.ssh/; chown -R nosudo: ~nosudo/.ssh');
    const hostname = (await host.exec('hostname')).stdout;
    const r = await machine(store, createArgs('gns').map((a) => (a === 'root' ? 'nosudo' : a)));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'User "nosudo" needs passwordless sudo on the host (sudo -n refused: a password is required): add "nosudo ALL=(ALL) NOPASSWD:ALL" to /etc/sudoers.d/nosudo, or connect as root',
    ]);
    expect((await host.exec('hostname')).stdout).toBe(hostname);
    expect(existsSync(join(store, 'machines', 'gns'))).toBe(false);
  });

  it('fails cleanly with a wrong SSH key', async () => {
    const other = await makeTestKey(join(work, 'other'));
    const r = await machine(store, ['create', '-d', 'generic', '--generic-ip-address', host.ip, '--generic-ssh-key', other, '--wait-timeout', '20', 'badkey']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/authentication/i);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(store, 'machines', 'badkey'))).toBe(false);
  });

  it('fails cleanly on an unreachable host within its timeout', async () => {
    const r = await machine(store, ['create', '-d', 'generic', '--generic-ip-address', '127.0.0.1', '--generic-ssh-port', '1', '--generic-ssh-key', key, '--wait-timeout', '4', 'unreach']);
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(30_000);
    expect(r.stderr).toMatch(/did not reach state Running|unreachable|127\.0\.0\.1:1/i);
    expect(existsSync(join(store, 'machines', 'unreach'))).toBe(false);
  });

  it('fails cleanly on an OS it cannot provision', async () => {
    const odd = await createTestHost({ dockerHost, image, name: 'e2e-generic-os', keyPath: key });
    try {
      await odd.exec(`printf 'ID=plan9\\nPRETTY_NAME="Plan 9 from Bell Labs"\\n' > /etc/os-release.new && rm -f /etc/os-release && mv /etc/os-release.new /etc/os-release`);
      const r = await machine(store, ['create', '-d', 'generic', '--generic-ip-address', odd.ip, '--generic-ssh-key', key, 'plan9']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Unsupported operating system "Plan 9 from Bell Labs"');
      expect(existsSync(join(store, 'machines', 'plan9'))).toBe(false);
    } finally {
      await odd.remove();
    }
  });

  it("provisions the Docker Machine 0.16.2 fixture's legacy-generic machine on the host Docker Machine failed on", async () => {
    const legacy = await copyLegacyStore(join(work, 'legacy'));
    // Point the old record at our host, and let the fixture's key in.
    const cfgPath = join(legacy, 'machines', 'legacy-generic', 'config.json');
    const cfg = JSON.parse(await readFile(cfgPath, 'utf8'));
    cfg.Driver.IPAddress = host.ip;
    await writeFile(cfgPath, JSON.stringify(cfg, null, 4));
    const pub = await readFile(join(legacy, 'machines', 'legacy-generic', 'key.pub'), 'utf8');
    await host.exec(`echo '${pub.trim()}' >> /root/.ssh/authorized_keys`);
    await mkdir(join(legacy, 'tmp'), { recursive: true });

    const before = await machine(legacy, ['env', 'legacy-generic']);
    if (host.ip !== '10.213.0.2') {
      expect(before.code).toBe(1);
      expect(before.stderr).toContain('regenerate-certs legacy-generic');
    }
    const p = await machine(legacy, ['provision', 'legacy-generic']);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    const info = await withEnv(legacy, 'legacy-generic', 'docker info --format "{{json .Labels}} {{json .RegistryConfig.Mirrors}}"');
    expect(info.code).toBe(0);
    expect(info.stdout).toContain('env=test');
    expect(info.stdout).toContain('http://mirror.local/');
    const dropIn = await host.exec('cat /etc/systemd/system/docker.service.d/10-machine.conf');
    expect(dropIn.stdout).toContain('Environment=HTTP_PROXY=http://proxy.local:3128');
    expect(dropIn.stdout).toContain('--insecure-registry registry.local:5000');
    const rmr = await machine(legacy, ['rm', '-y', 'legacy-generic']);
    expect(rmr.code).toBe(0);
  });

  it('upgrade on a host whose engine is not from a package it knows says so in one line', async () => {
    const c = await machine(store, createArgs('gmnopkg'));
    expect(c.code).toBe(0);
    // As on a host whose Docker came from static binaries: no package to upgrade.
    expect((await host.exec('DEBIAN_FRONTEND=noninteractive dpkg -r --force-depends docker.io >/dev/null 2>&1')).code).toBe(0);
    const r = await machine(store, ['upgrade', 'gmnopkg']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/No Docker engine package .*installed on "gmnopkg"/);
    expect(lines[0]).toContain('docker.io');
    expect((await machine(store, ['rm', '-y', 'gmnopkg'])).code).toBe(0);
  });

  it('upgrade starts a stopped machine first, as Docker Machine did, then upgrades it', async () => {
    // The generic driver cannot stop a host; a docker-driver machine on the same engine can.
    const env = { MACHINE_CACHE_DIR: cacheDir };
    const built = await machine(store, ['image', 'build', 'docker', '--docker-host', dockerHost], { env });
    expect(built.stderr).toBe('');
    const c = await machine(store, ['create', '-d', 'docker', '--docker-host', dockerHost, '--docker-network', upgradeNetwork, '--engine-install-url', 'distro', 'gup-dk'], { env });
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    expect((await machine(store, ['stop', 'gup-dk'])).code).toBe(0);
    expect((await machine(store, ['status', 'gup-dk'])).stdout.trim()).toBe('Stopped');

    const r = await machine(store, ['upgrade', 'gup-dk']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Starting machine so machine can be upgraded...');
    expect(r.stdout).toMatch(/Upgrading docker \(docker\.io\)\.\.\./);
    expect((await machine(store, ['status', 'gup-dk'])).stdout.trim()).toBe('Running');
    const info = await withEnv(store, 'gup-dk', 'docker info --format "{{.Name}}"');
    expect(info.stderr).toBe('');
    expect(info.stdout.trim()).toBe('gup-dk');
    expect((await machine(store, ['rm', '-y', 'gup-dk'])).code).toBe(0);
  });
});
