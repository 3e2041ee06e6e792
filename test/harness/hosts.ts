import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildRootfsTarball, hostRecipe, importImage, recipeKey } from '../../src/images/rootfs.js';
import { SYSTEM_CONTAINER_CAPS } from '../../src/drivers/docker/container.js';
import { cacheDir, e2eLabel } from './dockerd.js';
import { must, sh, type Out } from './exec.js';

// The same settings as the docker driver's machines.
export const HOST_CAPS = SYSTEM_CONTAINER_CAPS;

export async function ensureHostImage(dockerHost: string, onProgress?: (l: string) => void): Promise<string> {
  const tag = `machine-host:${recipeKey(hostRecipe)}`;
  const tar = await buildRootfsTarball({ recipe: hostRecipe, cacheDir, ...(onProgress ? { onProgress } : {}) });
  await importImage({ dockerHost, tarPath: tar, tag });
  return tag;
}

export interface TestHost {
  id: string;
  name: string;
  ip: string;
  sshPort: number;
  user: 'root';
  keyPath: string;
  exec(cmd: string): Promise<Out>;
  remove(): Promise<void>;
}

export async function makeTestKey(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const key = join(dir, 'id_ed25519');
  if (!existsSync(key)) await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'machine-e2e', '-f', key]);
  return key;
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** A system container with systemd and sshd, reachable at its bridge IP with keyPath. */
/** keyPath: a private key whose .pub is authorised (SSH is checked); or publicKey alone (only sshd's port is checked). */
export async function createTestHost(opts: { dockerHost: string; image: string; name?: string; keyPath?: string; publicKey?: string }): Promise<TestHost> {
  const d = ['-H', opts.dockerHost];
  const name = opts.name ?? `e2e-${Math.random().toString(36).slice(2, 8)}`;
  const volume = `${name}-docker`;
  await sh('docker', [...d, 'rm', '-f', '-v', name]);
  await sh('docker', [...d, 'volume', 'rm', '-f', volume]);
  const id = (
    await must('docker', [
      ...d, 'run', '-d', '--name', name, '--hostname', name, '--label', e2eLabel,
      '--cgroupns=host', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw',
      '--tmpfs', '/run', '--tmpfs', '/run/lock', '--tmpfs', '/tmp',
      '-v', `${volume}:/var/lib/docker`,
      '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
      ...HOST_CAPS.flatMap((c) => ['--cap-add', c]),
      opts.image, '/sbin/init',
    ])
  ).trim();
  const exec = (cmd: string) => sh('docker', [...d, 'exec', id, 'bash', '-c', cmd]);
  const remove = async () => {
    await sh('docker', [...d, 'rm', '-f', '-v', id]);
    await sh('docker', [...d, 'volume', 'rm', '-f', volume]);
  };
  try {
    const ip = (await must('docker', [...d, 'inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id])).trim();
    const pub = opts.publicKey?.trim() ?? (await readFile(`${opts.keyPath}.pub`, 'utf8')).trim();
    await must('docker', [...d, 'exec', id, 'sh', '-c', `mkdir -p /root/.ssh && chmod 700 /root/.ssh && echo '${pub}' > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys`]);
    await waitFor(
      async () =>
        !opts.keyPath
          ? (await sh('bash', ['-c', `exec 3<>/dev/tcp/${ip}/22`])).code === 0
          : (
          await sh('ssh', [
            '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=quiet',
            '-o', 'ConnectTimeout=2', '-i', opts.keyPath, `root@${ip}`, 'true',
          ])
        ).code === 0,
      60_000,
      `sshd in ${name}`,
    );
    return { id, name, ip, sshPort: 22, user: 'root', keyPath: opts.keyPath ?? '', exec, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** A tiny image tarball (busybox) for `docker import` + `docker run` inside a machine. */
export async function makeTinyImageTar(dir: string): Promise<string> {
  const out = join(dir, 'tiny-busybox.tar');
  if (existsSync(out)) return out;
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new Error('busybox is missing: apt-get install busybox-static');
  await mkdir(dir, { recursive: true });
  const root = await mkdtemp(join(dir, 'tiny-'));
  try {
    await mkdir(join(root, 'bin'));
    await must('cp', [busybox, join(root, 'bin', 'busybox')]);
    await symlink('busybox', join(root, 'bin', 'sh'));
    await writeFile(join(root, '.machine-tiny'), '');
    await must('tar', ['-C', root, '-cf', `${out}.tmp`, '.']);
    await must('mv', [`${out}.tmp`, out]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return out;
}
