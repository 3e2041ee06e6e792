import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile, chmod } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { MachineError } from '../errors.js';
import { AUTHORIZED_KEY_ENV, KEY_FROM_ENV_LABEL } from './labels.js';

const run = promisify(execFile);

export interface RootfsRecipe {
  suite: string;
  mirror: string;
  include: string[];
  variant: 'minbase';
  /**
   * Installed with apt on top of the base rootfs (the recipe without packages and
   * extraSetup), which is built once and shared: adding docker.io to a cached base takes
   * seconds, a debootstrap of its own a minute or more.
   */
  packages?: string[];
  /** Shell run in the rootfs after the packages, while apt's lists are still there. */
  extraSetup?: string;
}

/** The debootstrapped part of a recipe, which recipes differing only in their layer share. */
function baseOf(r: RootfsRecipe): RootfsRecipe | undefined {
  if (!r.packages?.length && !r.extraSetup) return undefined;
  return { suite: r.suite, mirror: r.mirror, include: r.include, variant: r.variant };
}

/** A Debian 12 system container: systemd as PID 1, sshd, and what the engine install needs. */
export const hostRecipe: RootfsRecipe = {
  suite: 'bookworm',
  mirror: 'http://deb.debian.org/debian',
  include: [
    'systemd',
    'systemd-sysv',
    'openssh-server',
    'sudo',
    'ca-certificates',
    'iproute2',
    'iptables',
    'curl',
    'gnupg',
    'procps',
    'dbus',
    'kmod',
  ],
  variant: 'minbase',
};

// Applied inside the rootfs after debootstrap; part of the cache key, so editing it rebuilds.
const SETUP = `set -e
# Each container makes its own host key at first boot: ed25519 only, because generating
# an RSA key costs each boot hundreds of milliseconds of CPU, many boots at once far more.
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/systemd/system/ssh.service.d /etc/ssh/sshd_config.d
echo 'HostKey /etc/ssh/ssh_host_ed25519_key' > /etc/ssh/sshd_config.d/10-machine-hostkey.conf
cat > /usr/local/sbin/machine-hostkey <<'KEY'
#!/bin/sh
test -f /etc/ssh/ssh_host_ed25519_key || exec ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
KEY
chmod 755 /usr/local/sbin/machine-hostkey
cat > /usr/local/sbin/machine-authorized-key <<'KEY'
#!/bin/sh
[ -n "$${AUTHORIZED_KEY_ENV}" ] || exit 0
umask 077
mkdir -p /root/.ssh
grep -qxF -- "$${AUTHORIZED_KEY_ENV}" /root/.ssh/authorized_keys 2>/dev/null || printf '%s\\n' "$${AUTHORIZED_KEY_ENV}" >> /root/.ssh/authorized_keys
KEY
chmod 755 /usr/local/sbin/machine-authorized-key
cat > /etc/systemd/system/ssh.service.d/10-hostkeys.conf <<'UNIT'
[Service]
PassEnvironment=${AUTHORIZED_KEY_ENV}
ExecStartPre=
ExecStartPre=/usr/local/sbin/machine-hostkey
ExecStartPre=/usr/local/sbin/machine-authorized-key
ExecStartPre=/usr/sbin/sshd -t
UNIT
sed -i 's/^#\\?PermitRootLogin.*/PermitRootLogin prohibit-password/' /etc/ssh/sshd_config
systemctl enable ssh.service >/dev/null 2>&1 || ln -sf /lib/systemd/system/ssh.service /etc/systemd/system/multi-user.target.wants/ssh.service
# Units that have nothing to do in a container and only slow boot or fail.
# Each costs CPU at every boot, which parallel creates on a small host pay all at once.
for u in getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service sys-kernel-config.mount systemd-remount-fs.service \
    modprobe@.service e2scrub_reap.service e2scrub_all.timer systemd-pstore.service dev-hugepages.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
    sys-fs-fuse-connections.mount apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer fstrim.timer systemd-journal-flush.service \
    systemd-update-utmp.service systemd-update-utmp-runlevel.service; do
  ln -sf /dev/null /etc/systemd/system/$u
done
# Generators run at boot and again at every daemon-reload; a container needs none of them.
mkdir -p /etc/systemd/system-generators
for g in /lib/systemd/system-generators/*; do
  ln -sf /dev/null /etc/systemd/system-generators/$(basename $g)
done
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
mkdir -p /root/.ssh && chmod 700 /root/.ssh
apt-get clean
rm -rf /var/lib/apt/lists/*
`;

export function recipeKey(r: RootfsRecipe): string {
  // A layered recipe's key covers its layer's script; its base's key covers SETUP.
  const base = baseOf(r);
  const script = base ? `${recipeKey(base)}\n${layerScript(r)}` : SETUP;
  return createHash('sha256').update(JSON.stringify(r)).update(script).digest('hex').slice(0, 12);
}

async function have(cmd: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * The rootfs as a tarball, cached by recipe: debootstrap takes about a minute, a cached
 * build takes nothing. A recipe with a layer (packages, extraSetup) starts from its base's
 * tarball, built first if missing.
 */
export async function buildRootfsTarball(opts: {
  recipe: RootfsRecipe;
  cacheDir: string;
  onProgress?: (line: string) => void;
}): Promise<string> {
  const key = recipeKey(opts.recipe);
  const out = join(opts.cacheDir, `rootfs-${opts.recipe.suite}-${key}.tar`);
  if (existsSync(out)) return out;
  if (process.getuid?.() !== 0) throw new MachineError('Building a rootfs needs root (debootstrap): run as root, or import an image built elsewhere');
  const base = baseOf(opts.recipe);
  const baseTar = base ? await buildRootfsTarball({ ...opts, recipe: base }) : undefined;
  if (!baseTar && !(await have('debootstrap'))) throw new MachineError('debootstrap is missing: apt-get install debootstrap');
  await mkdir(opts.cacheDir, { recursive: true });
  const dir = await mkdtemp(join(opts.cacheDir, 'rootfs-build-'));
  try {
    const r = opts.recipe;
    const root = join(dir, 'root');
    if (baseTar) {
      await mkdir(root);
      await run('tar', ['-C', root, '--numeric-owner', '-xf', baseTar]);
      if (r.packages?.length) opts.onProgress?.(`installing ${r.packages.join(', ')} (apt, in the rootfs)...`);
      await writeFile(join(root, 'tmp', 'machine-layer.sh'), layerScript(r));
      await run('chroot', [root, '/bin/sh', '/tmp/machine-layer.sh'], { maxBuffer: 1 << 26 });
      await rm(join(root, 'tmp', 'machine-layer.sh'));
    } else {
      opts.onProgress?.(`debootstrap ${r.suite} from ${r.mirror} (about a minute)...`);
      await streamed('debootstrap', [`--variant=${r.variant}`, `--include=${r.include.join(',')}`, r.suite, root, r.mirror], opts.onProgress);
      const setup = join(root, 'tmp', 'machine-setup.sh');
      await writeFile(setup, SETUP);
      await chmod(setup, 0o755);
      await run('chroot', [root, '/bin/sh', '/tmp/machine-setup.sh']);
      await rm(setup);
    }
    opts.onProgress?.('packing the rootfs...');
    const tmpTar = join(dir, 'rootfs.tar');
    await run('tar', ['-C', root, '--numeric-owner', '-cf', tmpTar, '.'], { maxBuffer: 1 << 26 });
    await rename(tmpTar, out);
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A script for the rootfs's chroot: /proc for the packages' scripts, and no service started
 * (policy-rc.d) since nothing runs there.
 */
export function chrootScript(body: string[]): string {
  return [
    'set -e',
    'mount -t proc proc /proc',
    "trap 'rm -f /usr/sbin/policy-rc.d; umount /proc' EXIT",
    "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d",
    'export DEBIAN_FRONTEND=noninteractive',
    ...body,
    '',
  ].join('\n');
}

/** A layer's packages and setup; apt's lists go at the end, as the base's setup did with its own. */
function layerScript(r: RootfsRecipe): string {
  const apt = r.packages?.length
    ? ['apt-get update -qq', `apt-get install -y -qq --no-install-recommends ${r.packages.join(' ')} >/dev/null`, 'apt-get clean']
    : [];
  return chrootScript([...apt, '(', r.extraSetup ?? ':', ')', 'apt-get clean && rm -rf /var/lib/apt/lists/*']);
}

function streamed(cmd: string, args: string[], onLine?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const take = (d: Buffer) => {
      const text = d.toString();
      tail = (tail + text).slice(-2000);
      for (const line of text.split('\n')) if (/^I: (Retrieving|Validating|Extracting|Installing|Configuring|Base system)/.test(line)) onLine?.(line.slice(3));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new MachineError(`${cmd} failed (exit ${code}): ${tail.trim().split('\n').pop()}`))));
  });
}

/**
 * Imports the rootfs under the tag, unless the tag already holds this very rootfs: the image
 * carries the tarball's name (which names the recipe), so a changed recipe is imported anew.
 */
export async function importImage(opts: { dockerHost: string; tarPath: string; tag: string }): Promise<void> {
  const docker = ['-H', opts.dockerHost];
  const source = basename(opts.tarPath);
  try {
    const { stdout } = await run('docker', [...docker, 'image', 'inspect', '-f', '{{index .Config.Labels "io.machine.rootfs"}}', opts.tag]);
    if (stdout.trim() === source) return;
  } catch {
    // not there yet
  }
  const labels = [`io.machine.rootfs=${source}`, `${KEY_FROM_ENV_LABEL}=${AUTHORIZED_KEY_ENV}`];
  await run('docker', [...docker, 'import', '--change', 'CMD ["/sbin/init"]', ...labels.flatMap((l) => ['--change', `LABEL ${l}`]), opts.tarPath, opts.tag], {
    maxBuffer: 1 << 24,
  });
}
