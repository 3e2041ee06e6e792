import { mkdtemp, rename, rm } from 'node:fs/promises';
import { CERTS_LOCK, storeCertFiles } from '../store/machine-files.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { certOrg } from './provision.js';


/**
 * `regenerate-certs --client-certs`: a new CA and client pair for the whole store. The new
 * set is made beside the old one and moved into place under the certs lock, so a create
 * running meanwhile signs with one CA or the other, never a mix.
 */
export async function regenerateCA(store: Store, log: Logger): Promise<void> {
  log.info(`Regenerating the CA and client certificates in ${store.certsDir}`);
  const { ensureCertificates } = await import('../certs/generate.js');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(store.certsDir, { recursive: true, mode: 0o700 });
  await store.withLock(CERTS_LOCK, async () => {
    const staging = await mkdtemp(`${store.certsDir}/.new-`);
    try {
      await ensureCertificates({ certsDir: staging, org: certOrg() });
      const from = storeCertFiles(staging);
      const to = storeCertFiles(store.certsDir);
      for (const k of ['caKey', 'caCert', 'clientKey', 'clientCert'] as const) await rename(from[k], to[k]);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  });
}
