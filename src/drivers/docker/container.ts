import type { MachineState } from '../driver.js';
import { tarArchive } from '../../images/tar.js';

/**
 * What a system container needs to run systemd, sshd and a nested dockerd on an ordinary
 * engine (see shared/testhosts.md): host cgroup namespace, tmpfs for /run, a volume on
 * /var/lib/docker (overlay2 cannot sit on overlay), and capabilities one by one, because
 * --privileged needs CAP_SYS_RESOURCE, which sandboxes like ours withhold.
 */
export const SYSTEM_CONTAINER_CAPS = [
  'AUDIT_CONTROL', 'AUDIT_READ', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER',
  'FSETID', 'IPC_LOCK', 'IPC_OWNER', 'KILL', 'LEASE', 'LINUX_IMMUTABLE', 'MAC_ADMIN', 'MAC_OVERRIDE', 'MKNOD', 'NET_ADMIN',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_ADMIN', 'SYS_BOOT',
  'SYS_CHROOT', 'SYS_MODULE', 'SYS_NICE', 'SYS_PACCT', 'SYS_PTRACE', 'SYS_RAWIO', 'SYS_TIME', 'SYS_TTY_CONFIG', 'SYSLOG',
  'WAKE_ALARM',
];

/** SIGRTMIN+3 asks systemd for a clean halt; as PID 1 it ignores SIGTERM, docker's default. */
export const STOP_SIGNAL = 'SIGRTMIN+3';

export interface ContainerSpec {
  name: string;
  image: string;
  network: string;
  /** A fixed address on the network, so certificates and swarm addresses survive restarts. */
  ipAddress?: string;
  volume: string;
  cpus: number;
  memoryMB: number;
  publish: boolean;
  enginePort: number;
  labels: Record<string, string>;
  /** Environment for the container's init, beside `container=docker` (the machine's public key). */
  env?: string[];
}

export function containerCreateBody(spec: ContainerSpec): Record<string, unknown> {
  const ports = ['22/tcp', `${spec.enginePort}/tcp`];
  return {
    Image: spec.image,
    Hostname: spec.name,
    Cmd: ['/sbin/init'],
    // systemd reads it to know it runs in a container (no udev, no getty on tty1...).
    Env: ['container=docker', ...(spec.env ?? [])],
    Labels: spec.labels,
    StopSignal: STOP_SIGNAL,
    ...(spec.publish ? { ExposedPorts: Object.fromEntries(ports.map((p) => [p, {}])) } : {}),
    HostConfig: {
      CgroupnsMode: 'host',
      Binds: ['/sys/fs/cgroup:/sys/fs/cgroup:rw', `${spec.volume}:/var/lib/docker`],
      Tmpfs: { '/run': '', '/run/lock': '', '/tmp': '' },
      SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
      CapAdd: SYSTEM_CONTAINER_CAPS,
      NetworkMode: spec.network,
      ...(spec.cpus ? { NanoCpus: Math.round(spec.cpus * 1e9) } : {}),
      ...(spec.memoryMB ? { Memory: spec.memoryMB * 1024 * 1024 } : {}),
      // An empty HostPort lets the engine pick a free one on each start.
      ...(spec.publish ? { PortBindings: Object.fromEntries(ports.map((p) => [p, [{ HostIp: '127.0.0.1', HostPort: '' }]])) } : {}),
    },
    NetworkingConfig: {
      EndpointsConfig: { [spec.network]: spec.ipAddress ? { IPAMConfig: { IPv4Address: spec.ipAddress } } : {} },
    },
  };
}

/** Unpacked at /root before the first start, so sshd takes the key from its first second. */
export function authorizedKeysArchive(publicKey: string): Buffer {
  return tarArchive([
    { name: '.ssh/', mode: 0o700 },
    { name: '.ssh/authorized_keys', mode: 0o600, body: `${publicKey.trim()}\n` },
  ]);
}

/**
 * created → Stopped: made but never started (or a start failed); `start` is the way on.
 * dead → Error: the engine failed to remove it and cannot start it again; only rm helps.
 * Missing → Error: the machine's record points at nothing; rm clears it.
 */
export function mapState(status: string | undefined): MachineState {
  switch (status) {
    case 'running':
      return 'Running';
    case 'paused':
      return 'Paused';
    case 'restarting':
      return 'Starting';
    case 'removing':
      return 'Stopping';
    case 'created':
    case 'exited':
      return 'Stopped';
    default:
      return 'Error';
  }
}
