import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cpSync } from 'node:fs';
import { readFileSync, statSync } from 'node:fs';
import { createServer, connect } from 'node:tls';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureCertificates, generateServerCert } from '../../src/certs/generate.js';
import { checkServerCertFor } from '../../src/certs/check.js';
import { certFacts, pemToDer } from '../../src/certs/der.js';
import { tempStore } from '../helpers/cli.js';
import { legacyFixture } from '../helpers/fixture.js';
import { buildGo, goMissing } from '../helpers/go.js';
import { ipFamily } from '../../src/net/ipv4.js';

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
})();

async function makeAll(hosts = ['10.1.2.3', 'localhost', 'node.example.test', 'fd00::1']) {
  const dir = await tempStore('machine-certs-');
  const certs = join(dir, 'certs');
  await ensureCertificates({ certsDir: certs, org: 'tester' });
  await generateServerCert({
    caCertPath: join(certs, 'ca.pem'),
    caKeyPath: join(certs, 'ca-key.pem'),
    certPath: join(dir, 'server.pem'),
    keyPath: join(dir, 'server-key.pem'),
    org: 'tester.m1',
    hosts,
  });
  return { dir, certs };
}

describe('certificates', () => {
  it("tells IP addresses from names in a certificate's SANs as node:net's isIP does", () => {
    const inputs = ['10.1.2.3', '255.255.255.255', '256.1.1.1', '1.2.3', '01.2.3.4', 'localhost', 'node.example.test', 'fd00::1', 'FD00:0::1', '::', '::1',
      '::ffff:10.1.2.3', '1::2::3', 'fd00::1%eth0', 'fe80::1%', '[fd00::1]', 'fd00:1', 'g::1', 'a:b', '', 'machine-1'];
    for (const h of inputs) expect(ipFamily(h), h).toBe(isIP(h));
  });

  it('makes a CA, a client and a server pair that OpenSSL accepts, keys mode 0600', async () => {
    const { dir, certs } = await makeAll();
    for (const key of [join(certs, 'ca-key.pem'), join(certs, 'key.pem'), join(dir, 'server-key.pem')]) {
      expect(statSync(key).mode & 0o777).toBe(0o600);
      expect(readFileSync(key, 'utf8')).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    }
    if (!hasOpenssl) return;
    const verify = (c: string, purpose: string) =>
      execFileSync('openssl', ['verify', '-purpose', purpose, '-CAfile', join(certs, 'ca.pem'), c], { encoding: 'utf8' });
    expect(verify(join(certs, 'cert.pem'), 'sslclient')).toContain(': OK');
    expect(verify(join(dir, 'server.pem'), 'sslserver')).toContain(': OK');
    const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', join(dir, 'server.pem')], { encoding: 'utf8' });
    expect(text).toMatch(/IP Address:10\.1\.2\.3, DNS:localhost, DNS:node\.example\.test, IP Address:FD00:0:0:0:0:0:0:1/);
    expect(text).toContain('TLS Web Server Authentication');
  });

  it('does not replace an existing CA or client pair', async () => {
    const { certs } = await makeAll();
    const before = ['ca.pem', 'ca-key.pem', 'cert.pem', 'key.pem'].map((f) => readFileSync(join(certs, f), 'utf8'));
    expect((await ensureCertificates({ certsDir: certs, org: 'tester' })).created).toEqual([]);
    const after = ['ca.pem', 'ca-key.pem', 'cert.pem', 'key.pem'].map((f) => readFileSync(join(certs, f), 'utf8'));
    expect(after).toEqual(before);
  });

  it('checks the server certificate against the dialled address, as node:crypto would', async () => {
    const { dir } = await makeAll();
    const cert = join(dir, 'server.pem');
    for (const ok of ['10.1.2.3', 'localhost', 'node.example.test', 'fd00::1', 'FD00:0::1']) {
      expect(checkServerCertFor({ certPath: cert, host: ok })).toEqual({ ok: true });
    }
    const bad = checkServerCertFor({ certPath: cert, host: '10.1.2.4' });
    expect(bad).toEqual({ ok: false, reason: 'x509: certificate is valid for 10.1.2.3, fd00:0:0:0:0:0:0:1, localhost, node.example.test, not 10.1.2.4' });
    const x = new X509Certificate(readFileSync(cert));
    const facts = certFacts(pemToDer(readFileSync(cert, 'utf8')));
    expect(facts.notAfter.getTime()).toBe(new Date(x.validTo).getTime());
    expect(facts.notBefore.getTime()).toBe(new Date(x.validFrom).getTime());
    expect(checkServerCertFor({ certPath: cert, host: '10.1.2.3', now: new Date(Date.now() + 2000 * 86400_000) }).ok).toBe(false);
  });

  it('reads validity dates past 2049, which certificates carry as GeneralizedTime', async () => {
    const dir = await tempStore();
    const cert = join(dir, 'long.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'long-key.pem'), '-out', cert, '-days', '36500', '-subj', '/CN=long', '-addext', 'subjectAltName=IP:192.0.2.7,DNS:long.example.test'], { stdio: 'ignore' });
    const x = new X509Certificate(readFileSync(cert));
    const facts = certFacts(pemToDer(readFileSync(cert, 'utf8')));
    expect(facts.notAfter.getUTCFullYear()).toBeGreaterThan(2049);
    expect(facts.notAfter.getTime()).toBe(new Date(x.validTo).getTime());
    expect(facts.notBefore.getTime()).toBe(new Date(x.validFrom).getTime());
    expect(facts.ips).toEqual(['192.0.2.7']);
    expect(facts.dns).toEqual(['long.example.test']);
  });

  it("reads Docker Machine 0.16.2's server certificate: valid for 10.213.0.2, not 127.0.0.2", () => {
    const cert = join(legacyFixture, 'machines', 'legacy-generic', 'server.pem');
    expect(checkServerCertFor({ certPath: cert, host: '10.213.0.2' })).toEqual({ ok: true });
    expect(checkServerCertFor({ certPath: cert, host: 'machine.example.com' })).toEqual({ ok: true });
    const r = checkServerCertFor({ certPath: cert, host: '127.0.0.2' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/valid for .*10\.213\.0\.2.*not 127\.0\.0\.2/);
  });

  it('completes a mutual-TLS handshake, and refuses a client from another CA', async () => {
    const a = await makeAll(['127.0.0.1']);
    const b = await makeAll(['127.0.0.1']);
    const read = (p: string) => readFileSync(p);
    const server = createServer({
      cert: read(join(a.dir, 'server.pem')),
      key: read(join(a.dir, 'server-key.pem')),
      ca: read(join(a.certs, 'ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
    }, (s) => s.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const talk = (certs: string) =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, ca: read(join(a.certs, 'ca.pem')), cert: read(join(certs, 'cert.pem')), key: read(join(certs, 'key.pem')) }, () => undefined);
        let data = '';
        s.on('data', (d) => (data += d));
        s.on('end', () => resolve(data));
        s.on('error', reject);
      });
    try {
      expect(await talk(a.certs)).toBe('hello');
      // Under TLS 1.3 the server refuses after the client's handshake: no data, or an error.
      expect(await talk(b.certs).catch(() => 'refused')).not.toBe('hello');
    } finally {
      server.close();
    }
  });

  it('keeps serial numbers positive and minimal (a leading zero byte makes Go refuse the certificate)', async () => {
    const { dir } = await makeAll(['10.1.2.3']);
    for (let i = 0; i < 40; i++) {
      await generateServerCert({ caCertPath: join(dir, 'certs', 'ca.pem'), caKeyPath: join(dir, 'certs', 'ca-key.pem'), certPath: join(dir, 's.pem'), keyPath: join(dir, 's-key.pem'), org: 'o', hosts: ['h'] });
      const serial = new X509Certificate(readFileSync(join(dir, 's.pem'))).serialNumber;
      expect(serial).toMatch(/^[4-7][0-9A-F]{31}$/);
    }
  });

  it("signs an EC engine certificate with Docker Machine 0.16.2's RSA CA", async () => {
    const dir = await tempStore('machine-certs-legacy-');
    cpSync(join(legacyFixture, 'certs'), join(dir, 'certs'), { recursive: true });
    await generateServerCert({ caCertPath: join(dir, 'certs', 'ca.pem'), caKeyPath: join(dir, 'certs', 'ca-key.pem'), certPath: join(dir, 'server.pem'), keyPath: join(dir, 'server-key.pem'), org: 'tester.m1', hosts: ['10.1.2.3'] });
    const cert = new X509Certificate(readFileSync(join(dir, 'server.pem')));
    const ca = new X509Certificate(readFileSync(join(dir, 'certs', 'ca.pem')));
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.issuer).toBe(ca.subject);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    if (!hasOpenssl) return;
    const out = execFileSync('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'certs', 'ca.pem'), join(dir, 'server.pem')], { encoding: 'utf8' });
    expect(out).toContain(': OK');
  });

  // The docker CLI, dockerd and Docker Machine are Go: its crypto/tls and crypto/x509 are
  // the readers that matter, and they are stricter than OpenSSL (DER integers, parameters).
  describe.skipIf(goMissing && !process.env.CI)(`read by Go's crypto/tls and crypto/x509${goMissing && !process.env.CI ? ` (skipped: ${goMissing})` : ''}`, () => {
    it('loads both pairs and verifies the chain for the server and the client usage', async () => {
      if (goMissing) throw new Error(goMissing);
      const bin = buildGo('certs-check', GO_CHECK);
      const { dir, certs } = await makeAll(['10.1.2.3', 'localhost', 'node.example.test', 'fd00::1']);
      const out = execFileSync(bin, [join(certs, 'ca.pem'), join(dir, 'server.pem'), join(dir, 'server-key.pem'), join(certs, 'cert.pem'), join(certs, 'key.pem')], { encoding: 'utf8' });
      expect(out.trim().split('\n')).toEqual(['server 10.1.2.3 ok', 'server node.example.test ok', 'server fd00::1 ok', 'server 10.1.2.4 refused', 'client ok']);
    });
  });
});

const GO_CHECK = `package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

func main() {
	caPEM, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		panic("no CA certificate")
	}
	server, err := tls.LoadX509KeyPair(os.Args[2], os.Args[3])
	if err != nil {
		panic(err)
	}
	client, err := tls.LoadX509KeyPair(os.Args[4], os.Args[5])
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(server.Certificate[0])
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"10.1.2.3", "node.example.test", "fd00::1", "10.1.2.4"} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			fmt.Println("server", name, "refused")
		} else {
			fmt.Println("server", name, "ok")
		}
	}
	c, err := x509.ParseCertificate(client.Certificate[0])
	if err != nil {
		panic(err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		panic(err)
	}
	fmt.Println("client ok")
}
`;
