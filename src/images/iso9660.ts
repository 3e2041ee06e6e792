// A small ISO 9660 writer for cloud-init seeds (volume label "cidata": user-data,
// meta-data, network-config). Plain ISO 9660 names are 8.3 upper case, so the real names
// go into a Joliet directory, which Linux's isofs and cloud-init read. Files only, one
// directory, well under a megabyte: that is all a seed needs, and it needs no tool on the
// user's machine.

const SECTOR = 2048;

export interface IsoFile {
  name: string;
  data: Buffer;
}

function bothEndian16(buf: Buffer, off: number, v: number): void {
  buf.writeUInt16LE(v, off);
  buf.writeUInt16BE(v, off + 2);
}
function bothEndian32(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v, off);
  buf.writeUInt32BE(v, off + 4);
}

function dirDate(d: Date): Buffer {
  const b = Buffer.alloc(7);
  b[0] = d.getUTCFullYear() - 1900;
  b[1] = d.getUTCMonth() + 1;
  b[2] = d.getUTCDate();
  b[3] = d.getUTCHours();
  b[4] = d.getUTCMinutes();
  b[5] = d.getUTCSeconds();
  b[6] = 0;
  return b;
}

function volDate(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:TZ.]/g, '').slice(0, 14) + '00';
  const b = Buffer.alloc(17);
  b.write(s, 0, 'ascii');
  b[16] = 0;
  return b;
}

function dirRecord(nameBytes: Buffer, extent: number, size: number, isDir: boolean, date: Date): Buffer {
  const len = 33 + nameBytes.length + (nameBytes.length % 2 === 0 ? 1 : 0);
  const r = Buffer.alloc(len);
  r[0] = len;
  bothEndian32(r, 2, extent);
  bothEndian32(r, 10, size);
  dirDate(date).copy(r, 18);
  r[25] = isDir ? 2 : 0;
  bothEndian16(r, 28, 1);
  r[32] = nameBytes.length;
  nameBytes.copy(r, 33);
  return r;
}

function isoName(name: string, used: Set<string>): string {
  const [base = '', ext = ''] = name.toUpperCase().replace(/[^A-Z0-9_.]/g, '_').split(/\.(?=[^.]*$)/);
  let stem = base.replace(/\./g, '_').slice(0, 8) || 'FILE';
  let n = 1;
  while (used.has(`${stem}.${ext.slice(0, 3)}`)) stem = `${stem.slice(0, 6)}~${n++}`;
  const out = `${stem}.${ext.slice(0, 3)}`;
  used.add(out);
  return `${out};1`;
}

function ucs2be(s: string): Buffer {
  const le = Buffer.from(s, 'utf16le');
  for (let i = 0; i < le.length; i += 2) {
    const t = le[i]!;
    le[i] = le[i + 1]!;
    le[i + 1] = t;
  }
  return le;
}

function pad(s: string, len: number): string {
  return s.padEnd(len, ' ').slice(0, len);
}

export function buildIso(volumeId: string, files: IsoFile[], date = new Date()): Buffer {
  // Layout: 16 system sectors, PVD (16), Joliet SVD (17), terminator (18), path tables
  // (19-22), ISO root dir (23), Joliet root dir (24), then file data.
  const firstData = 25;
  const extents: number[] = [];
  let next = firstData;
  for (const f of files) {
    extents.push(next);
    next += Math.max(1, Math.ceil(f.data.length / SECTOR));
  }
  const total = next;
  const img = Buffer.alloc(total * SECTOR);

  const used = new Set<string>();
  const isoNames = files.map((f) => isoName(f.name, used));
  const rootDir = (joliet: boolean, self: number): Buffer => {
    const recs = [dirRecord(Buffer.from([0]), self, SECTOR, true, date), dirRecord(Buffer.from([1]), self, SECTOR, true, date)];
    files.forEach((f, i) => {
      const name = joliet ? ucs2be(f.name) : Buffer.from(isoNames[i]!, 'ascii');
      recs.push(dirRecord(name, extents[i]!, f.data.length, false, date));
    });
    const body = Buffer.concat(recs);
    if (body.length > SECTOR) throw new Error('seed directory too large');
    return body;
  };

  const pathTable = (rootExtent: number, bigEndian: boolean): Buffer => {
    const t = Buffer.alloc(10);
    t[0] = 1;
    if (bigEndian) t.writeUInt32BE(rootExtent, 2);
    else t.writeUInt32LE(rootExtent, 2);
    if (bigEndian) t.writeUInt16BE(1, 6);
    else t.writeUInt16LE(1, 6);
    return t;
  };

  const descriptor = (type: 1 | 2, rootExtent: number, ptL: number, ptM: number): Buffer => {
    const d = Buffer.alloc(SECTOR);
    d[0] = type;
    d.write('CD001', 1, 'ascii');
    d[6] = 1;
    if (type === 2) {
      d.write(pad('', 32), 8, 'ascii');
      ucs2be(volumeId.slice(0, 16)).copy(d, 40);
      // Joliet level 3 escape sequence.
      Buffer.from([0x25, 0x2f, 0x45]).copy(d, 88);
    } else {
      d.write(pad('', 32), 8, 'ascii');
      d.write(pad(volumeId.toUpperCase(), 32), 40, 'ascii');
    }
    bothEndian32(d, 80, total);
    bothEndian16(d, 120, 1);
    bothEndian16(d, 124, 1);
    bothEndian16(d, 128, SECTOR);
    bothEndian32(d, 132, 10);
    d.writeUInt32LE(ptL, 140);
    d.writeUInt32BE(ptM, 148);
    dirRecord(Buffer.from([0]), rootExtent, SECTOR, true, date).copy(d, 156);
    for (const off of [190, 318, 446, 574]) d.write(pad('', 128), off, 'ascii');
    for (const off of [702, 739, 776]) d.write(pad('', 37), off, 'ascii');
    for (const off of [813, 830]) volDate(date).copy(d, off);
    volDate(new Date(0)).fill('0'.charCodeAt(0), 0, 16).copy(d, 847);
    volDate(new Date(0)).fill('0'.charCodeAt(0), 0, 16).copy(d, 864);
    d[881] = 1;
    return d;
  };

  descriptor(1, 23, 19, 20).copy(img, 16 * SECTOR);
  descriptor(2, 24, 21, 22).copy(img, 17 * SECTOR);
  const term = Buffer.alloc(SECTOR);
  term[0] = 255;
  term.write('CD001', 1, 'ascii');
  term[6] = 1;
  term.copy(img, 18 * SECTOR);
  pathTable(23, false).copy(img, 19 * SECTOR);
  pathTable(23, true).copy(img, 20 * SECTOR);
  pathTable(24, false).copy(img, 21 * SECTOR);
  pathTable(24, true).copy(img, 22 * SECTOR);
  rootDir(false, 23).copy(img, 23 * SECTOR);
  rootDir(true, 24).copy(img, 24 * SECTOR);
  files.forEach((f, i) => f.data.copy(img, extents[i]! * SECTOR));
  return img;
}

/** Reads back the volume label and Joliet file names and contents (for tests and checks). */
export function readIso(img: Buffer): { volumeId: string; files: Record<string, Buffer> } {
  const pvd = img.subarray(16 * SECTOR, 17 * SECTOR);
  if (pvd.toString('ascii', 1, 6) !== 'CD001') throw new Error('not an ISO 9660 image');
  const volumeId = pvd.toString('ascii', 40, 72).trim();
  let root: Buffer | undefined;
  for (let s = 16; s < 32; s++) {
    const d = img.subarray(s * SECTOR, (s + 1) * SECTOR);
    if (d[0] === 255) break;
    if (d[0] === 2 && d[88] === 0x25 && d[89] === 0x2f) root = d;
  }
  if (!root) throw new Error('no Joliet directory');
  const rootExtent = root.readUInt32LE(156 + 2);
  const dir = img.subarray(rootExtent * SECTOR, (rootExtent + 1) * SECTOR);
  const files: Record<string, Buffer> = {};
  for (let off = 0; off < dir.length && dir[off]! > 0; off += dir[off]!) {
    const nameLen = dir[off + 32]!;
    const name = dir.subarray(off + 33, off + 33 + nameLen);
    if (nameLen === 1 && (name[0] === 0 || name[0] === 1)) continue;
    const swapped = Buffer.from(name);
    for (let i = 0; i < swapped.length; i += 2) [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
    const extent = dir.readUInt32LE(off + 2);
    const size = dir.readUInt32LE(off + 10);
    files[swapped.toString('utf16le')] = img.subarray(extent * SECTOR, extent * SECTOR + size);
  }
  return { volumeId, files };
}
