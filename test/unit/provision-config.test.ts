import { describe, expect, it } from 'vitest';
import { dockerdArgs, keepUnitArgs, renderDropIn } from '../../src/provision/engine-config.js';
import { splitExecStart } from '../../src/provision/provision.js';
import { detectFamily } from '../../src/provision/families.js';
import { parseOsRelease } from '../../src/provision/os-release.js';
import { defaultEngineOptions } from '../../src/store/schema.js';

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
  });
});
