import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { macFor, qemuArgs } from '../../src/drivers/qemu/args.js';
import { chooseAccel, firmwareRuns } from '../../src/drivers/qemu/accel.js';
import { buildSeed } from '../../src/images/seed.js';
import { cachedImage } from '../../src/images/download.js';
import { readIso } from '../../src/images/iso9660.js';
import { tempStore } from '../helpers/cli.js';

const silent = { info: () => undefined, debug: () => undefined };
const qemuBinary = ['/usr/bin/qemu-system-x86_64'].find((p) => existsSync(p));

describe('qemu driver pieces', () => {
  it('builds a detached, QMP-controlled command line with forwarded ports', () => {
    const args = qemuArgs({
      name: 'vm1', machineDir: '/s/machines/vm1', accel: 'tcg', cpus: 2, memoryMB: 1024,
      disk: '/s/machines/vm1/disk.qcow2', seed: '/s/machines/vm1/seed.iso', sshPort: 40022, enginePort: 42376,
      mac: macFor('vm1', 0), kernel: '/img/vmlinuz', initrd: '/img/initrd.img', append: 'console=ttyS0 root=/dev/vda rw',
      mcast: { group: '230.0.0.1', port: 21234, mac: macFor('vm1', 1) },
    });
    const joined = args.join(' ');
    expect(joined).toContain('-accel tcg,thread=multi -cpu max -smp 2 -m 1024');
    expect(joined).toContain('hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:42376-:2376');
    expect(joined).toContain('-netdev socket,id=net1,mcast=230.0.0.1:21234,localaddr=127.0.0.1');
    expect(joined).toContain('-kernel /img/vmlinuz -initrd /img/initrd.img -append console=ttyS0 root=/dev/vda rw');
    expect(joined).toContain('-qmp unix:/s/machines/vm1/qmp.sock,server=on,wait=off -pidfile /s/machines/vm1/qemu.pid -daemonize');
    expect(qemuArgs({ name: 'k', machineDir: '/d', accel: 'kvm', cpus: 1, memoryMB: 512, disk: 'd', seed: 's', sshPort: 1, enginePort: 2, mac: macFor('k', 0) }).join(' ')).toContain('-accel kvm -cpu host');
    expect(macFor('vm1', 0)).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(macFor('vm1', 0)).toBe(macFor('vm1', 0));
    expect(macFor('vm1', 0)).not.toBe(macFor('vm1', 1));
  });

  it('chooses the accelerator: as asked, KVM when it runs a guest, TCG with a warning otherwise', async () => {
    expect(await chooseAccel('tcg', 'qemu')).toEqual({ accel: 'tcg' });
    expect(await chooseAccel('auto', 'qemu', async () => true, 'darwin')).toEqual({ accel: 'hvf' });
    const hanging = await chooseAccel('auto', 'qemu', async () => false, 'linux');
    expect(hanging.accel).toBe('tcg');
    expect(hanging.warning).toMatch(/TCG/);
    const windows = await chooseAccel('auto', 'qemu', async () => true, 'win32');
    expect(windows).toMatchObject({ accel: 'tcg' });
  });

  it.skipIf(!qemuBinary)('probes a real QEMU: the firmware runs under TCG', async () => {
    expect(await firmwareRuns(qemuBinary!, 'tcg', 10_000)).toBe(true);
  });

  it('writes a cidata seed with the key, user, hostname, network and the user\'s own user-data', () => {
    const iso = readIso(
      buildSeed({
        hostname: 'vm1',
        user: 'docker',
        publicKey: 'ssh-ed25519 AAAAC3Nza test',
        userData: '#!/bin/sh\necho extra\n',
        nics: [{ mac: '52:54:00:00:00:01' }, { mac: '52:54:00:00:00:02', address: '10.77.0.11/24' }],
      }),
    );
    expect(iso.volumeId).toBe('CIDATA');
    expect(iso.files['meta-data']!.toString()).toBe('instance-id: machine-vm1\nlocal-hostname: vm1\n');
    const ud = iso.files['user-data']!.toString();
    expect(ud).toContain('Content-Type: multipart/mixed');
    expect(ud).toContain('hostname: vm1');
    expect(ud).toContain('  - name: docker');
    expect(ud).toContain('      - ssh-ed25519 AAAAC3Nza test');
    expect(ud).toContain('Content-Type: text/x-shellscript');
    expect(ud).toContain('echo extra');
    const net = iso.files['network-config']!.toString();
    expect(net).toContain('macaddress: "52:54:00:00:00:01"\n    set-name: eth0\n    dhcp4: true');
    expect(net).toContain('macaddress: "52:54:00:00:00:02"\n    set-name: eth1\n    addresses: [10.77.0.11/24]');
  });

  it('keeps a download only when it matches the published checksum', async () => {
    const good = Buffer.from('a cloud image\n'.repeat(1000));
    const sum = createHash('sha512').update(good).digest('hex');
    let served = good;
    const server = createServer((req, res) => {
      if (req.url === '/img/SHA512SUMS') res.end(`${sum}  disk.qcow2\n`);
      else if (req.url === '/img/disk.qcow2') res.end(served);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/img/disk.qcow2`;
    try {
      const bad = await tempStore('machine-img-');
      served = Buffer.concat([good, Buffer.from('tampered')]);
      await expect(cachedImage({ url, cacheDir: bad, log: silent })).rejects.toThrow(/Checksum mismatch .*discarded/);
      expect(existsSync(join(bad, 'images', 'disk.qcow2'))).toBe(false);
      expect(existsSync(join(bad, 'images', 'disk.qcow2.part'))).toBe(false);

      served = good;
      const ok = await tempStore('machine-img-');
      const path = await cachedImage({ url, cacheDir: ok, log: silent });
      expect(execFileSync('sha512sum', [path], { encoding: 'utf8' }).split(' ')[0]).toBe(sum);
      // Cached: a second call does not download again.
      served = Buffer.from('changed');
      expect(await cachedImage({ url, cacheDir: ok, log: silent })).toBe(path);
    } finally {
      server.close();
    }
  });
});
