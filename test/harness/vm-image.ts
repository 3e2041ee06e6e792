import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildRootfsTarball, chrootScript, hostRecipe, recipeKey, type RootfsRecipe } from '../../src/images/rootfs.js';
import { cacheDir } from './dockerd.js';
import { must } from './exec.js';

// A small Debian 12 VM image for the qemu driver's tests, built offline from Debian's
// packages: the harness's rootfs (global setup has built it) with the cloud kernel,
// cloud-init (which reads our NoCloud seed) and docker.io added, since installing the engine
// inside a TCG guest takes minutes. AppArmor's packages are fetched here and installed in
// the second disk only (see VmImage).
const APPARMOR_DEBS = '/var/cache/machine-apparmor';
export const vmRecipe: RootfsRecipe = {
  ...hostRecipe,
  packages: ['linux-image-cloud-amd64', 'initramfs-tools', 'cloud-init', 'docker.io', 'e2fsprogs'],
  extraSetup: `apt-get install -y -qq --no-install-recommends --download-only apparmor >/dev/null
mkdir -p ${APPARMOR_DEBS} && mv /var/cache/apt/archives/*.deb ${APPARMOR_DEBS}/
# The container setup masks udev and friends; a VM needs them to see its devices.
for u in getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service sys-kernel-config.mount systemd-remount-fs.service; do rm -f /etc/systemd/system/$u; done
echo '/dev/vda / ext4 rw,discard,errors=remount-ro 0 1' > /etc/fstab
mkdir -p /etc/systemd/network /etc/cloud/cloud.cfg.d
printf '[Match]\\nName=en* eth*\\n[Network]\\nDHCP=yes\\n' > /etc/systemd/network/99-dhcp.network
systemctl enable systemd-networkd >/dev/null 2>&1
# With a second NIC, wait-online stalls boot for two minutes (shared/testhosts.md).
for u in systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer man-db.timer fstrim.timer; do ln -sf /dev/null /etc/systemd/system/$u; done
systemctl disable docker.service docker.socket containerd.service >/dev/null 2>&1 || true
printf 'datasource_list: [ NoCloud, None ]\\n' > /etc/cloud/cloud.cfg.d/90-machine-test.cfg`,
};

const INSTALL_APPARMOR = chrootScript(['dpkg -i /tmp/apparmor-debs/*.deb >/dev/null', 'rm -rf /tmp/apparmor-debs']);

export interface VmImage {
  /** As Debian's cloud images ship: AppArmor and its parser installed. */
  disk: string;
  /**
   * The same without apparmor_parser (docker.io only recommends it): the provisioner has to
   * install it, or dockerd starts no container. Only one test pays for that install, which
   * under TCG takes about a minute.
   */
  diskWithoutAppArmor: string;
  kernel: string;
  initrd: string;
}

/**
 * Built once per recipe (a minute or two on the harness's cached rootfs: one debootstrap
 * serves both, which on a cold run is minutes off the QEMU suite, the longest), then read
 * from the cache.
 */
export async function ensureVmImage(onProgress?: (l: string) => void): Promise<VmImage> {
  const dir = join(cacheDir, `vm-${recipeKey(vmRecipe)}-${createHash('sha256').update(INSTALL_APPARMOR).digest('hex').slice(0, 8)}`);
  const out: VmImage = {
    disk: join(dir, 'disk.qcow2'),
    diskWithoutAppArmor: join(dir, 'disk-no-apparmor.qcow2'),
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
  };
  if (existsSync(out.disk) && existsSync(out.diskWithoutAppArmor)) return out;
  const tar = await buildRootfsTarball({ recipe: vmRecipe, cacheDir, ...(onProgress ? { onProgress } : {}) });
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(cacheDir, 'vm-build-'));
  try {
    const root = join(work, 'root');
    await mkdir(root);
    await must('tar', ['-C', root, '--numeric-owner', '-xf', tar]);
    const boot = readdirSync(join(root, 'boot'));
    const kernel = boot.find((f) => f.startsWith('vmlinuz-'));
    const initrd = boot.find((f) => f.startsWith('initrd.img-'));
    if (!kernel || !initrd) throw new Error(`the VM rootfs has no kernel/initrd in /boot (${boot.join(', ')})`);
    await copyFile(join(root, 'boot', kernel), join(work, 'vmlinuz'));
    await copyFile(join(root, 'boot', initrd), join(work, 'initrd.img'));
    // AppArmor's packages wait outside the rootfs while the disk without them is made.
    await rename(join(root, APPARMOR_DEBS), join(work, 'apparmor-debs'));
    const disk = async (name: string) => {
      onProgress?.(`making the ext4 disk image ${name}...`);
      await must('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', root, join(work, 'disk.raw'), '3G']);
      await must('qemu-img', ['convert', '-O', 'qcow2', join(work, 'disk.raw'), join(work, name)]);
      await rm(join(work, 'disk.raw'));
    };
    await disk('disk-no-apparmor.qcow2');
    await rename(join(work, 'apparmor-debs'), join(root, 'tmp', 'apparmor-debs'));
    await must('chroot', [root, '/bin/sh', '-c', INSTALL_APPARMOR]);
    await disk('disk.qcow2');
    await rm(root, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
    await rename(work, dir);
    return out;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
