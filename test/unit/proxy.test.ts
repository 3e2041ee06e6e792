import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { cachedImage } from '../../src/images/download.js';
import { Ec2Api } from '../../src/drivers/amazonec2/api.js';
import type { Ec2Settings } from '../../src/drivers/amazonec2/flags.js';
import { proxyEnvironment, renderDropIn } from '../../src/provision/engine-config.js';
import { defaultEngineOptions } from '../../src/store/schema.js';
import { silentLogger } from '../../src/log.js';
import { Ec2Endpoint } from '../ec2/server.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';

// The CLI's own traffic through the user's proxy, against a real proxy that logs what went
// through it (test/helpers/proxy.ts).

const VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'ALL_PROXY', 'all_proxy'];
let saved: Record<string, string | undefined>;
let proxy: TestProxy | undefined;
beforeEach(() => {
  saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));
  for (const v of VARS) delete process.env[v];
});
afterEach(async () => {
  for (const v of VARS) {
    if (saved[v] === undefined) delete process.env[v];
    else process.env[v] = saved[v];
  }
  await proxy?.close();
  proxy = undefined;
});

describe('the CLI through HTTP_PROXY', () => {
  it('downloads an image and its checksum list through the proxy', async () => {
    const disk = Buffer.from('a disk image\n');
    const sum = createHash('sha256').update(disk).digest('hex');
    proxy = await startTestProxy({ origins: { 'images.machine.test': { '/disk.img': disk, '/SHA256SUMS': `${sum}  disk.img\n` } } });
    process.env.http_proxy = proxy.url;
    const cache = mkdtempSync(join(tmpdir(), 'machine-proxy-'));
    const file = await cachedImage({ url: 'http://images.machine.test/disk.img', cacheDir: cache, log: silentLogger });
    expect(readFileSync(file)).toEqual(disk);
    expect(proxy.log).toEqual(['GET http://images.machine.test/SHA512SUMS', 'GET http://images.machine.test/SHA256SUMS', 'GET http://images.machine.test/disk.img']);
  });

  it('sends the EC2 SDK through the proxy, and not when NO_PROXY names the endpoint', async () => {
    const endpoint = new Ec2Endpoint({ accessKeys: ['AKIDPROXY'] });
    const url = await endpoint.listen();
    try {
      proxy = await startTestProxy({});
      process.env.HTTP_PROXY = proxy.url;
      const cfg = { Region: 'us-east-1', Endpoint: url, RetryCount: 0 } as Ec2Settings;
      const call = () =>
        new Ec2Api(() => cfg, '/nonexistent', silentLogger, undefined, { accessKeyId: 'AKIDPROXY', secretAccessKey: 's' }).call('listing key pairs', (m, c, o) =>
          c.send(new m.DescribeKeyPairsCommand({}), o),
        );
      expect((await call()).KeyPairs).toEqual([]);
      expect(proxy.log).toEqual([`POST ${url.replace(/\/?$/, '/')}`]);
      process.env.NO_PROXY = '127.0.0.1';
      await call();
      expect(proxy.log).toHaveLength(1);
    } finally {
      await endpoint.close();
    }
  });
});

describe('the Azure SDK through HTTPS_PROXY', () => {
  it('reads the proxy itself: ARM calls tunnel through it', async () => {
    const { ArmEndpoint } = await import('../azure/server.js');
    const { ResourceManagementClient } = await import('@azure/arm-resources');
    const sub = '00000000-1111-2222-3333-444444444444';
    const arm = new ArmEndpoint({ token: 't', subscriptionId: sub, retryAfter: 0 });
    const url = await arm.listen();
    try {
      proxy = await startTestProxy({});
      process.env.HTTPS_PROXY = proxy.url;
      // Through a proxy the SDK does not apply tlsOptions to the tunnel: trust the endpoint's
      // test CA process-wide instead, as NODE_EXTRA_CA_CERTS does for the CLI in the e2e tests.
      const tls = await import('node:tls');
      const before = tls.getCACertificates('default');
      tls.setDefaultCACertificates([...before, arm.caPem]);
      onTestFinished(() => tls.setDefaultCACertificates(before));
      const credential = { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3600_000 }) };
      const client = new ResourceManagementClient(credential, sub, { endpoint: url, tlsOptions: { ca: arm.caPem } });
      await client.resourceGroups.createOrUpdate('rg', { location: 'westeurope' });
      expect(proxy.log).toContain(`CONNECT ${new URL(url).host}`);
    } finally {
      await arm.close();
    }
  });
});

describe("the engine's proxy", () => {
  const proxySettings = { HTTP_PROXY: 'http://proxy.corp:3128', HTTPS_PROXY: 'http://proxy.corp:3128', NO_PROXY: 'corp.local,10.0.0.5' };

  it('goes into dockerd environment in both spellings; --engine-env wins for the names it sets', () => {
    expect(proxyEnvironment(proxySettings, ['https_proxy=http://other:8080'])).toEqual([
      'HTTP_PROXY=http://proxy.corp:3128',
      'http_proxy=http://proxy.corp:3128',
      'NO_PROXY=corp.local,10.0.0.5',
      'no_proxy=corp.local,10.0.0.5',
    ]);
    const engine = { ...defaultEngineOptions(), Env: ['HTTPS_PROXY=http://other:8080'] };
    const dropIn = renderDropIn({ dockerdPath: '/usr/sbin/dockerd', socketActivated: true, keptArgs: [], enginePort: 2376, driverName: 'generic', engine, proxy: proxySettings });
    expect(dropIn).toContain('Environment=HTTP_PROXY=http://proxy.corp:3128\n');
    expect(dropIn).toContain('Environment=HTTPS_PROXY=http://other:8080\n');
    expect(dropIn).not.toContain('HTTPS_PROXY=http://proxy.corp:3128');
  });
});
