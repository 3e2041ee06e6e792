import { createPrivateKey, generateKeyPair as generateKeyPairCb, randomBytes, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { CertError } from '../errors.js';
import { storeCertFiles } from '../store/machine-files.js';
import { writeFileAtomic } from '../sys/atomic.js';

const generateKeyPair = promisify(generateKeyPairCb);
const DAY = 24 * 60 * 60 * 1000;
// Docker Machine's validity: 1080 days for every certificate it makes.
const VALIDITY_DAYS = 1080;

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, data, mode);
}

/** RSA 2048 from node:crypto (fast, native), as PKCS#1 PEM like Docker Machine writes. */
async function newKey(): Promise<{ pem: string; pub: forge.pki.rsa.PublicKey }> {
  const { privateKey, publicKey } = await generateKeyPair('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { pem: privateKey, pub: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey };
}

/**
 * forge builds the certificate; node:crypto signs it. forge's RSA in JavaScript took about
 * 300 ms of CPU per signature, which every create paid, and parallel creates paid at once.
 */
function signCert(cert: forge.pki.Certificate, keyPem: string): void {
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids['sha256WithRSAEncryption']!;
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  cert.tbsCertificate = tbs;
  const der = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  cert.signature = sign('sha256', der, keyPem).toString('binary');
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

function baseCert(pub: forge.pki.rsa.PublicKey, subject: forge.pki.CertificateField[]): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  cert.serialNumber = serial();
  const now = Date.now();
  // Back-dated a little: a host whose clock lags must not see a certificate from the future.
  cert.validity.notBefore = new Date(now - 5 * 60 * 1000);
  cert.validity.notAfter = new Date(now + VALIDITY_DAYS * DAY);
  cert.setSubject(subject);
  return cert;
}

async function loadCA(caCertPath: string, caKeyPath: string): Promise<{ cert: forge.pki.Certificate; keyPem: string }> {
  try {
    const keyPem = await readFile(caKeyPath, 'utf8');
    // Read as a key here, so that a broken file fails now with the message below.
    createPrivateKey(keyPem);
    return { cert: forge.pki.certificateFromPem(await readFile(caCertPath, 'utf8')), keyPem };
  } catch (err) {
    throw new CertError(`Cannot load the CA (${caCertPath}, ${caKeyPath}): ${(err as Error).message}; restore them, or run "regenerate-certs --client-certs"`);
  }
}

export interface CertificateOptions {
  certsDir: string;
  org: string;
  caCertPath?: string;
  caKeyPath?: string;
  clientCertPath?: string;
  clientKeyPath?: string;
}

/** Makes the store's CA and client pair when missing; existing files are never replaced. */
export async function ensureCertificates(opts: CertificateOptions): Promise<{ created: string[] }> {
  const files = storeCertFiles(opts.certsDir);
  const caCertPath = opts.caCertPath || files.caCert;
  const caKeyPath = opts.caKeyPath || files.caKey;
  const clientCertPath = opts.clientCertPath || files.clientCert;
  const clientKeyPath = opts.clientKeyPath || files.clientKey;
  const created: string[] = [];
  const hasCert = existsSync(caCertPath);
  const hasKey = existsSync(caKeyPath);
  if (hasCert !== hasKey) {
    throw new CertError(`The CA is incomplete: ${hasCert ? caKeyPath : caCertPath} is missing; restore it, or remove ${hasCert ? caCertPath : caKeyPath} to make a new CA`);
  }
  if (!hasCert) {
    const { pem, pub } = await newKey();
    const cert = baseCert(pub, [{ name: 'organizationName', value: opts.org }, { name: 'commonName', value: `${opts.org} machine CA` }]);
    cert.setIssuer(cert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    signCert(cert, pem);
    await writeAtomic(caKeyPath, pem, 0o600);
    await writeAtomic(caCertPath, forge.pki.certificateToPem(cert), 0o644);
    created.push(caCertPath, caKeyPath);
  }
  if (!existsSync(clientCertPath) || !existsSync(clientKeyPath)) {
    await generateClientCert({ caCertPath, caKeyPath, certPath: clientCertPath, keyPath: clientKeyPath, org: opts.org });
    created.push(clientCertPath, clientKeyPath);
  }
  return { created };
}

export async function generateClientCert(opts: { caCertPath: string; caKeyPath: string; certPath: string; keyPath: string; org: string }): Promise<void> {
  const ca = await loadCA(opts.caCertPath, opts.caKeyPath);
  const { pem, pub } = await newKey();
  const cert = baseCert(pub, [{ name: 'organizationName', value: opts.org }, { name: 'commonName', value: opts.org }]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  signCert(cert, ca.keyPem);
  await writeAtomic(opts.keyPath, pem, 0o600);
  await writeAtomic(opts.certPath, forge.pki.certificateToPem(cert), 0o644);
}

/** The engine's certificate: IP SANs for addresses, DNS SANs for names. */
export async function generateServerCert(opts: {
  caCertPath: string;
  caKeyPath: string;
  certPath: string;
  keyPath: string;
  org: string;
  hosts: string[];
}): Promise<void> {
  if (!opts.hosts.length) throw new CertError('A server certificate needs at least one host name or address');
  const ca = await loadCA(opts.caCertPath, opts.caKeyPath);
  const { pem, pub } = await newKey();
  const cert = baseCert(pub, [{ name: 'organizationName', value: opts.org }, { name: 'commonName', value: opts.hosts[0]! }]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      altNames: opts.hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })),
    },
  ]);
  signCert(cert, ca.keyPem);
  await writeAtomic(opts.keyPath, pem, 0o600);
  await writeAtomic(opts.certPath, forge.pki.certificateToPem(cert), 0o644);
}
