import { join } from 'node:path';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { ensureVmImage, type VmImage } from '../test/harness/vm-image.js';
import { machine, tempStore } from '../test/helpers/cli.js';

const skipReason = inject('e2eSkipReason');

/** Seconds at which create printed a step ("[ 12.3s] ..."). */
function at(out: string, step: string): number {
  const line = out.split('\n').find((l) => l.includes(step));
  const m = line && /^\[\s*([\d.]+)s\]/.exec(line);
  if (!m) throw new Error(`create printed no "${step}"`);
  return Number(m[1]) * 1000;
}

describe.skipIf(skipReason)('qemu driver benchmark', () => {
  let store: string;
  let image: VmImage;

  beforeAll(async () => {
    store = join(await tempStore('machine-bench-qemu-'), 'store');
    image = await ensureVmImage();
  });
  afterAll(async () => {
    await machine(store, ['rm', '-f', 'bq1']);
  });

  it('create to a ready engine, split into image preparation, boot to SSH and provisioning', async () => {
    const r = await machine(store, [
      'create', '-d', 'qemu', '--qemu-accel', 'tcg', '--qemu-image', image.disk, '--qemu-kernel', image.kernel, '--qemu-initrd', image.initrd,
      '--qemu-append', 'console=ttyS0 root=/dev/vda rw', '--qemu-memory', '1024', '--qemu-disk-size', '4000',
      '--engine-install-url', 'none', '--wait-timeout', '600', 'bq1',
    ]);
    if (r.code !== 0) throw new Error(r.stderr);
    const prep = at(r.stdout, 'Waiting for machine to be running');
    const ssh = at(r.stdout, 'Detecting the provisioner');
    const ready = at(r.stdout, 'Docker is up and running!');
    const lines = [
      '\n== qemu driver (TCG): create to a ready engine',
      `  image preparation (overlay, key, seed, launch)  ${(prep / 1000).toFixed(1).padStart(7)} s`,
      `  boot to SSH (kernel, systemd, cloud-init)       ${((ssh - prep) / 1000).toFixed(1).padStart(7)} s`,
      `  provisioning (engine baked in: TLS, restart)    ${((ready - ssh) / 1000).toFixed(1).padStart(7)} s`,
      `  total (whole CLI run)                           ${(r.ms / 1000).toFixed(1).padStart(7)} s`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  });
});
