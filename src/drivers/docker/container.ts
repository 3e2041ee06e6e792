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

export interface ContainerSpec {
  name: string;
  image: string;
  network: string;
  volume: string;
  publicKey: string;
  cpus: number;
  memoryMB: number;
  publish: boolean;
  enginePort: number;
  labels: Record<string, string>;
}

// The public key arrives through the environment and is written before systemd starts, so
// sshd accepts it from its first second; `exec` keeps systemd as PID 1.
const BOOT = [
  'mkdir -p /root/.ssh && chmod 700 /root/.ssh',
  'printf "%s\\n" "$MACHINE_SSH_PUBLIC_KEY" > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys',
  'exec /sbin/init',
].join(' && ');

export function containerCreateBody(spec: ContainerSpec): Record<string, unknown> {
  const ports = ['22/tcp', `${spec.enginePort}/tcp`];
  return {
    Image: spec.image,
    Hostname: spec.name,
    Cmd: ['/bin/sh', '-c', BOOT],
    Env: [`MACHINE_SSH_PUBLIC_KEY=${spec.publicKey}`, 'container=docker'],
    Labels: spec.labels,
    // systemd ignores SIGTERM as PID 1; SIGRTMIN+3 is its "halt" request.
    StopSignal: 'SIGRTMIN+3',
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
      ...(spec.publish ? { PortBindings: Object.fromEntries(ports.map((p) => [p, [{ HostIp: '127.0.0.1', HostPort: '' }]])) } : {}),
    },
    NetworkingConfig: { EndpointsConfig: { [spec.network]: {} } },
  };
}

export function mapState(status: string | undefined): 'Running' | 'Paused' | 'Starting' | 'Stopping' | 'Stopped' | 'Error' {
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
    case 'dead':
      return 'Stopped';
    default:
      // The container is gone from under us: nothing runs, and rm is the way out.
      return 'Error';
  }
}
