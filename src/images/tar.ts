/**
 * A ustar writer for the few small entries drivers hand over (authorized_keys, boot2docker's format-me disk): not worth
 * a dependency. Entries are owned by root, since the engine applies the archive's owners.
 */
export interface TarEntry {
  /** Relative path; directories end in "/". */
  name: string;
  mode: number;
  body?: Buffer | string;
}

const BLOCK = 512;

export function tarArchive(entries: TarEntry[], mtime = Math.floor(Date.now() / 1000)): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const isDir = e.name.endsWith('/');
    const body = isDir ? Buffer.alloc(0) : Buffer.from(e.body ?? '');
    parts.push(header(e.name, e.mode, body.length, mtime, isDir ? '5' : '0'));
    if (body.length) {
      parts.push(body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function header(name: string, mode: number, size: number, mtime: number, type: '0' | '5'): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name longer than 100 bytes: ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode & 0o7777);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.write('        ', 148, 8, 'ascii');
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\u000000', 257, 8, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return h;
}

function octal(buf: Buffer, offset: number, len: number, value: number): void {
  buf.write(`${value.toString(8).padStart(len - 1, '0')}\u0000`, offset, len, 'ascii');
}
