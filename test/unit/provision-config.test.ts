import { describe, expect, it } from 'vitest';
import { dockerdArgs, keepUnitArgs, renderDropIn } from '../../src/provision/engine-config.js';
import { splitExecStart } from '../../src/provision/provision.js';
import { detectFamily } from '../../src/provision/families.js';
import { parseOsRelease } from '../../src/provision/os-release.js';
import { defaultEngineOptions } from '../../src/store/schema.js';
import { dockerdReason, engineStartError } from '../../src/provision/engine-start.js';
import { HOSTS_AWK } from '../../src/provision/hostname.js';
import { execFileSync } from 'node:child_process';

describe('engine configuration', () => {
  it("keeps Debian's socket activation and the unit's own flags, replacing hosts", () => {
    const unit = splitExecStart('ExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS --containerd=/run/containerd/containerd.sock');
    expect(unit).toEqual(['/usr/sbin/dockerd', '-H', 'fd://', '$DOCKER_OPTS', '--containerd=/run/containerd/containerd.sock']);
    expect(keepUnitArgs(unit.slice(1))).toEqual(['--containerd=/run/containerd/containerd.sock']);
  });

  it('renders every engine option into the drop-in', () => {
    const engine = defaultEngineOptions();
    engine.Labels = ['env=test'];
    engine.InsecureRegistry = ['registry.local:5000'];
    engine.RegistryMirror = ['http://mirror.local'];
    engine.ArbitraryFlags = ['log-level=debug'];
    engine.Env = ['HTTP_PROXY=http://proxy.local:3128'];
    engine.StorageDriver = 'overlay2';
    const text = renderDropIn({
      dockerdPath: '/usr/sbin/dockerd',
      socketActivated: true,
      keptArgs: [],
      enginePort: 2376,
      driverName: 'generic',
      engine,
    });
    expect(text).toContain('ExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2376 --storage-driver overlay2 --tlsverify');
    expect(text).toContain('--label env=test --label provider=generic --insecure-registry registry.local:5000 --registry-mirror http://mirror.local');
    expect(text).toContain('--log-level=debug');
    expect(text).toContain('Environment=HTTP_PROXY=http://proxy.local:3128');
    expect(dockerdArgs({ dockerdPath: 'x', socketActivated: false, keptArgs: [], enginePort: 3000, driverName: 'd', engine: defaultEngineOptions() }).slice(0, 4)).toEqual([
      '-H',
      'unix:///var/run/docker.sock',
      '-H',
      'tcp://0.0.0.0:3000',
    ]);
  });

  it('detects OS families from os-release, and names the supported ones otherwise', () => {
    const os = (text: string) => detectFamily(parseOsRelease(text)).name;
    expect(os('ID=debian\nVERSION_ID="12"')).toBe('debian');
    expect(os('ID=ubuntu\nID_LIKE=debian')).toBe('debian');
    expect(os('ID="rocky"\nID_LIKE="rhel centos fedora"')).toBe('redhat');
    expect(os('ID=amzn\nID_LIKE="centos rhel fedora"')).toBe('redhat');
    expect(os('ID="opensuse-leap"\nID_LIKE="suse opensuse"')).toBe('suse');
    expect(os('ID=linuxish\nID_LIKE="rhel"')).toBe('redhat');
    expect(() => os('ID=plan9\nPRETTY_NAME="Plan 9"')).toThrow(/Unsupported operating system "Plan 9"/);
    // A Docker Machine boot2docker VM: its engine keeps what Docker Machine set up.
    expect(() => os('NAME=Boot2Docker\nVERSION=19.03.12\nID=boot2docker\nPRETTY_NAME="Boot2Docker 19.03.12"')).toThrow(
      /^Boot2Docker 19\.03\.12 is retired and machine does not provision it: its engine keeps the configuration Docker Machine gave it; make a new machine from a cloud image to manage the engine/,
    );
  });
});

describe("dockerd's reason for not starting", () => {
  // journalctl -o cat of docker.service's failed main process (Debian 12, docker.io 20.10).
  it('is the line dockerd prints when it refuses a flag, without its help footer', () => {
    expect(dockerdReason(['Status: unknown flag: --garbage', "See 'dockerd --help'., Code: 125"])).toBe('unknown flag: --garbage');
    expect(dockerdReason(['unable to parse logging level: nonsense'])).toBe('unable to parse logging level: nonsense');
  });

  it("is an error-level log message, not a start's info chatter", () => {
    const journal = [
      'time="2026-12-02T13:30:46.59Z" level=info msg="Starting up"',
      'time="2026-12-02T13:30:46.60Z" level=warning msg="Running in rootless mode"',
      String.raw`time="2026-12-02T13:30:46.61Z" level=fatal msg="failed to start daemon: error initializing graphdriver: driver not supported: \"nonsense\""`,
    ];
    expect(dockerdReason(journal)).toBe('failed to start daemon: error initializing graphdriver: driver not supported: "nonsense"');
    expect(dockerdReason(['time="x" level=info msg="Daemon shutdown complete"'])).toBe('');
  });

  it('makes one line, naming the fix; systemd\'s words only when dockerd said nothing', () => {
    const stderr = 'Job for docker.service failed because the control process exited with error code.\nSee "systemctl status docker.service" for details.\n@@machine:journal dockerd\nStatus: unknown flag: --garbage\nSee \'dockerd --help\'., Code: 125\n';
    const err = engineStartError(stderr, 'fix the engine options');
    expect(err?.message).toBe('docker.service failed to start on the host (dockerd says: unknown flag: --garbage): fix the engine options');
    expect(err?.message).not.toContain('\n');
    const dep = engineStartError('@@machine:journal unit\nDependency failed for docker.service - Docker Application Container Engine.\n', 'fix it');
    expect(dep?.message).toContain('systemd says: Dependency failed for docker.service');
    expect(engineStartError('mv: cannot move', 'fix it')).toBeUndefined();
  });
});

describe('/etc/hosts rewrite', () => {
  const rewrite = (text: string, name = 'gm1') => execFileSync('awk', ['-v', `want=${name}`, HOSTS_AWK], { input: text, encoding: 'utf8' });

  it('gives the name exactly one line, replacing the host\'s old 127.0.1.1 name, and is idempotent', () => {
    for (const before of [
      '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n\n# IPv6\n::1 localhost ip6-localhost\n',
      '127.0.0.1 localhost\n10.0.0.2 e2e\n127.0.1.1 gm2\n127.0.1.1 gm1\n127.0.1.1 gm1\n',
      '127.0.0.1 localhost\n',
    ]) {
      const after = rewrite(before);
      expect(after.split('\n').filter((l) => /\sgm1$/.test(l))).toEqual(['127.0.1.1\tgm1']);
      expect(after.split('\n').filter((l) => !/^127\.0\.1\.1\s/.test(l))).toEqual(before.split('\n').filter((l) => !/^127\.0\.1\.1\s/.test(l)));
      expect(rewrite(after)).toBe(after);
    }
  });

  it('leaves a line that already maps the name, and adds none where another line does', () => {
    expect(rewrite('127.0.0.1 localhost\n127.0.1.1 gm1.example.com gm1\n')).toBe('127.0.0.1 localhost\n127.0.1.1 gm1.example.com gm1\n');
    // Docker's own line in a container's /etc/hosts.
    expect(rewrite('127.0.0.1 localhost\n172.18.0.2\tgm1\n')).toBe('127.0.0.1 localhost\n172.18.0.2\tgm1\n');
    // Comments are not mappings.
    expect(rewrite('# 127.0.1.1 gm1\n127.0.0.1 localhost # gm1\n')).toBe('# 127.0.1.1 gm1\n127.0.0.1 localhost # gm1\n127.0.1.1\tgm1\n');
  });
});
