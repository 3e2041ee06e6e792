import { rm } from 'node:fs/promises';
import { storeCertFiles } from '../store/machine-files.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { certOrg } from './provision.js';

/** `regenerate-certs --client-certs`: a new CA and client pair for the whole store. */
export async function regenerateCA(store: Store, log: Logger): Promise<void> {
  log.info(`Regenerating the CA and client certificates in ${store.certsDir}`);
  for (const f of Object.values(storeCertFiles(store.certsDir))) await rm(f, { force: true });
  const { ensureCertificates } = await import('../certs/generate.js');
  await ensureCertificates({ certsDir: store.certsDir, org: certOrg() });
}
