import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedImage } from '../../src/images/download.js';
import { silentLogger } from '../../src/log.js';
import { tempStore } from '../helpers/cli.js';

describe('image downloads', () => {
  let server: Server;
  let base: string;
  const image = Buffer.from('not really a disk image\n');
  beforeAll(async () => {
    // A mirror on loopback: one image with its SHA256SUMS, one without any checksum list.
    server = createServer((req, res) => {
      if (req.url === '/good/disk.qcow2' || req.url === '/nosums/disk.qcow2') return res.end(image);
      if (req.url === '/good/SHA256SUMS') return res.end(`${createHash('sha256').update(image).digest('hex')}  disk.qcow2\n`);
      res.statusCode = 404;
      res.end('not found');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  it('keeps a download that matches its published checksum', async () => {
    const path = await cachedImage({ url: `${base}/good/disk.qcow2`, cacheDir: await tempStore(), log: silentLogger });
    expect(path).toMatch(/images\/disk\.qcow2$/);
  });

  it('says the download failed when the server cannot be reached, not that no checksum is published', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(cachedImage({ url: `http://127.0.0.1:${port}/x/disk.qcow2`, cacheDir: await tempStore(), log: silentLogger })).rejects.toThrow(
      new RegExp(`^Download of http://127\\.0\\.0\\.1:${port}/x/SHA512SUMS failed: .*ECONNREFUSED.*: check the network \\(and HTTPS_PROXY\\), or use a local image file$`),
    );
  });

  it('says no checksum is published when the server answers but lists none', async () => {
    await expect(cachedImage({ url: `${base}/nosums/disk.qcow2`, cacheDir: await tempStore(), log: silentLogger })).rejects.toThrow(/^No published checksum for disk\.qcow2/);
  });
});
