import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildIso, readIso } from '../../src/images/iso9660.js';
import { tempStore } from '../helpers/cli.js';

const has = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
};

const files = [
  { name: 'meta-data', data: Buffer.from('instance-id: m1\nlocal-hostname: m1\n') },
  { name: 'user-data', data: Buffer.from('#cloud-config\n' + 'x'.repeat(5000) + '\n') },
  { name: 'network-config', data: Buffer.from('version: 2\n') },
];

describe('ISO 9660 seed writer', () => {
  it('reads back its own label, names and contents', () => {
    const iso = readIso(buildIso('cidata', files));
    expect(iso.volumeId).toBe('CIDATA');
    expect(Object.keys(iso.files).sort()).toEqual(['meta-data', 'network-config', 'user-data']);
    for (const f of files) expect(iso.files[f.name]!.equals(f.data)).toBe(true);
  });

  it.skipIf(!has('isoinfo'))('is read by isoinfo (genisoimage) with Joliet names, and blkid sees the cidata label', async () => {
    const dir = await tempStore('machine-iso-');
    const path = join(dir, 'seed.iso');
    writeFileSync(path, buildIso('cidata', files));
    const listing = execFileSync('isoinfo', ['-J', '-f', '-i', path], { encoding: 'utf8' });
    expect(listing.split('\n').filter(Boolean).sort()).toEqual(['/meta-data', '/network-config', '/user-data']);
    expect(execFileSync('isoinfo', ['-J', '-x', '/user-data', '-i', path]).equals(files[1]!.data)).toBe(true);
    if (has('blkid')) {
      expect(execFileSync('blkid', ['-o', 'value', '-s', 'LABEL', path], { encoding: 'utf8' }).trim()).toBe('cidata');
      expect(execFileSync('blkid', ['-o', 'value', '-s', 'TYPE', path], { encoding: 'utf8' }).trim()).toBe('iso9660');
    }
  });
});
