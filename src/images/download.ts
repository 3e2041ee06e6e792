import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { basename, join } from 'node:path';
import { DriverError } from '../errors.js';
import type { Logger } from '../log.js';
import { proxyAgentFor } from '../sys/proxy.js';

import { arch } from 'node:os';

/** Debian 12 genericcloud for the host's architecture. */
export const DEFAULT_IMAGE_URL = `https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-${arch() === 'arm64' ? 'arm64' : 'amd64'}.qcow2`;

async function fetch(url: string, redirects = 5): Promise<import('node:http').IncomingMessage> {
  // Through HTTP(S)_PROXY unless NO_PROXY names the host; each redirect is looked up again.
  const agent = await proxyAgentFor(url);
  return new Promise((resolve, reject) => {
    const getter = url.startsWith('https:') ? httpsGet : httpGet;
    getter(url, agent ? { agent } : {}, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        resolve(fetch(new URL(res.headers.location, url).toString(), redirects - 1));
      } else if (status !== 200) {
        res.resume();
        reject(new DriverError(`Download of ${url} failed: HTTP ${status}`));
      } else resolve(res);
    }).on('error', (err) => reject(new DriverError(`Download of ${url} failed: ${err.message}`)));
  });
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url);
  let text = '';
  for await (const chunk of res) text += chunk;
  return text;
}

/** The publisher's checksum for the file: SHA512SUMS/SHA256SUMS beside it, as Debian and Ubuntu publish. */
export async function publishedChecksum(url: string, sumsUrl?: string): Promise<{ algo: 'sha512' | 'sha256'; hex: string }> {
  const dir = url.slice(0, url.lastIndexOf('/') + 1);
  const candidates = sumsUrl ? [sumsUrl] : [`${dir}SHA512SUMS`, `${dir}SHA256SUMS`];
  const name = basename(new URL(url).pathname);
  let unreachable: Error | undefined;
  for (const c of candidates) {
    let text: string;
    try {
      text = await fetchText(c);
    } catch (err) {
      // An HTTP answer (404) means "no list here"; no answer at all means the download failed.
      if (!/failed: HTTP \d+$/.test((err as Error).message)) unreachable ??= err as Error;
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /^([0-9a-f]{64}|[0-9a-f]{128})\s+\*?(\S+)$/.exec(line.trim());
      if (m && basename(m[2]!) === name) return { algo: m[1]!.length === 128 ? 'sha512' : 'sha256', hex: m[1]! };
    }
  }
  if (unreachable) throw new DriverError(`${unreachable.message}: check the network (and HTTPS_PROXY), or use a local image file`, { cause: unreachable });
  throw new DriverError(`No published checksum for ${name} (looked in ${candidates.join(', ')}): use a local image file you trust instead`);
}

/**
 * Downloads once into the cache, with a progress line, and keeps the file only when it
 * matches the publisher's checksum.
 */
export async function cachedImage(opts: {
  url: string;
  cacheDir: string;
  log: Logger;
  sumsUrl?: string;
}): Promise<string> {
  const dest = join(opts.cacheDir, 'images', basename(new URL(opts.url).pathname));
  if (existsSync(dest)) return dest;
  await mkdir(join(opts.cacheDir, 'images'), { recursive: true });
  const want = await publishedChecksum(opts.url, opts.sumsUrl);
  const part = `${dest}.part`;
  const res = await fetch(opts.url);
  const total = Number(res.headers['content-length'] ?? 0);
  const hash = createHash(want.algo);
  let got = 0;
  let lastShown = 0;
  opts.log.info(`Downloading ${opts.url}${total ? ` (${(total / 1e6).toFixed(0)} MB)` : ''}...`);
  const out = createWriteStream(part);
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      hash.update(chunk);
      got += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      // The CLI's display shows bytes, percent and rate (a live line, or json events).
      if (Date.now() - lastShown > 200) {
        lastShown = Date.now();
        opts.log.progress?.({ bytes: got, ...(total ? { total } : {}) });
      }
    }
    await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())));
    opts.log.progress?.({ bytes: got, ...(total ? { total } : {}) });
    const hex = hash.digest('hex');
    if (hex !== want.hex) {
      throw new DriverError(`Checksum mismatch for ${opts.url}: expected ${want.algo} ${want.hex.slice(0, 16)}…, got ${hex.slice(0, 16)}…; the download was discarded`);
    }
    await rename(part, dest);
    return dest;
  } catch (err) {
    out.destroy();
    await rm(part, { force: true });
    throw err;
  }
}
