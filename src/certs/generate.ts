import { createPrivateKey, generateKeyPair as generateKeyPairCb, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { CertError } from '../errors.js';
import { storeCertFiles } from '../store/machine-files.js';
import { writeFileAtomic } from '../sys/atomic.js';
import { certSubjectDer, pemToDer } from './der.js';
import { buildCertificate, type CertificateSpec } from './x509.js';

const generateKeyPair = promisify(generateKeyPairCb);
const DAY = 24 * 60 * 60 * 1000;
// Docker Machine's validity: 1080 days for every certificate it makes.
const VALIDITY_DAYS = 1080;

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, data, mode);
}

/**
 * ECDSA P-256, as "EC PRIVATE KEY" PEM. Docker Machine made RSA 2048 keys: one took this
 * machine 40-400 ms of CPU (a prime search), on every create; a P-256 key takes under a
 * millisecond, and its TLS handshakes are cheaper for `ls`. The docker CLI, dockerd and
 * Docker Machine's Go all read it; existing RSA CAs and keys keep working.
 */
async function newKey(): Promise<{ pem: string; privateKey: KeyObject; publicKey: KeyObject }> {
  const { privateKey, publicKey } = await generateKeyPair('ec', { namedCurve: 'P-256' });
  return { pem: privateKey.export({ type: 'sec1', format: 'pem' }) as string, privateKey, publicKey };
}

function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  // Back-dated a little: a host whose clock lags must not see a certificate from the future.
  return { notBefore: new Date(now - 5 * 60 * 1000), notAfter: new Date(now + VALIDITY_DAYS * DAY) };
}

async function loadCA(caCertPath: string, caKeyPath: string): Promise<{ subjectDer: Buffer; key: KeyObject }> {
  try {
    // Read as a key here, so that a broken file fails now with the message below.
    const key = createPrivateKey(await readFile(caKeyPath, 'utf8'));
    return { subjectDer: certSubjectDer(pemToDer(await readFile(caCertPath, 'utf8'))), key };
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
    const { pem, privateKey, publicKey } = await newKey();
    const cert = buildCertificate({
      org: opts.org,
      commonName: `${opts.org} machine CA`,
      publicKey,
      signerKey: privateKey,
      ...validity(),
      ca: true,
      keyUsage: ['keyCertSign', 'cRLSign', 'digitalSignature'],
    });
    await writeAtomic(caKeyPath, pem, 0o600);
    await writeAtomic(caCertPath, cert, 0o644);
    created.push(caCertPath, caKeyPath);
  }
  if (!existsSync(clientCertPath) || !existsSync(clientKeyPath)) {
    await generateClientCert({ caCertPath, caKeyPath, certPath: clientCertPath, keyPath: clientKeyPath, org: opts.org });
    created.push(clientCertPath, clientKeyPath);
  }
  return { created };
}

/** A leaf certificate signed by the CA. Its key is EC, so no keyEncipherment: an EC key cannot encipher. */
async function generateLeaf(
  opts: { caCertPath: string; caKeyPath: string; certPath: string; keyPath: string; org: string },
  leaf: Pick<CertificateSpec, 'commonName' | 'extKeyUsage' | 'hosts'>,
): Promise<void> {
  const ca = await loadCA(opts.caCertPath, opts.caKeyPath);
  const { pem, publicKey } = await newKey();
  const cert = buildCertificate({
    ...leaf,
    org: opts.org,
    publicKey,
    issuerDer: ca.subjectDer,
    signerKey: ca.key,
    ...validity(),
    ca: false,
    keyUsage: ['digitalSignature'],
  });
  await writeAtomic(opts.keyPath, pem, 0o600);
  await writeAtomic(opts.certPath, cert, 0o644);
}

export async function generateClientCert(opts: { caCertPath: string; caKeyPath: string; certPath: string; keyPath: string; org: string }): Promise<void> {
  await generateLeaf(opts, { commonName: opts.org, extKeyUsage: ['clientAuth'] });
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
  // Both usages, as before: the pair is also the engine's client identity towards its peers.
  await generateLeaf(opts, { commonName: opts.hosts[0]!, extKeyUsage: ['serverAuth', 'clientAuth'], hosts: opts.hosts });
}
