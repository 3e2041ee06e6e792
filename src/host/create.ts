import { existsSync } from 'node:fs';
import { CertError, HostAlreadyExistsError, InterruptedError, MachineError, PreCreateCheckError, progName } from '../errors.js';
import { loadDriver } from '../drivers/registry.js';
import type { FlagValues } from '../drivers/driver.js';
import type { Logger } from '../log.js';
import { validateNewMachineName } from '../store/names.js';
import {
  CURRENT_CONFIG_VERSION,
  defaultEngineOptions,
  defaultSwarmOptions,
  type EngineOptions,
  type HostConfig,
} from '../store/schema.js';
import { CERTS_LOCK, machineFiles, storeCertFiles } from '../store/machine-files.js';
import type { Store } from '../store/store.js';
import { driverContext, type Host } from './host.js';
import { certOrg, discardHostBackup, provisionMachine, restoreHostAsFound, type SshSession } from './provision.js';
import { backupDir } from '../provision/restore.js';
import { waitForState } from './state.js';

export { defaultEngineOptions, validateNewMachineName, type EngineOptions };

export interface GlobalTls {
  caCertPath?: string;
  caKeyPath?: string;
  clientCertPath?: string;
  clientKeyPath?: string;
}

export interface CreateRequest {
  name: string;
  driverName: string;
  driverFlags: FlagValues;
  engine: EngineOptions;
  tlsSans: string[];
  tls: GlobalTls;
  log: Logger;
  /** How long to wait for SSH once the machine runs. */
  sshTimeoutMs?: number;
  /**
   * Runs once the engine is up, inside create's rollback: a failure removes the machine. It
   * gets provisioning's SSH session, still open (a new login costs a fifth of a second).
   */
  afterProvision?: (host: Host, session?: SshSession) => Promise<Partial<HostConfig> | void>;
  /**
   * Runs once the pre-create checks passed, before anything is made: a failure ends the create
   * with nothing to remove (swarm create checks every node before it makes any).
   */
  afterChecks?: () => Promise<void>;
  /**
   * Aborted when the user interrupts. The step under way finishes or stops early (waits
   * do), nothing new starts, and what was made is removed before the error is thrown.
   */
  signal?: AbortSignal;
}

/**
 * Makes a machine: driver resources, store record, certificates, provisioning. A failure
 * after the driver made something removes it again; if that removal fails too the record
 * stays so that `rm` can finish the job, and the error says so.
 */
export async function createMachine(store: Store, req: CreateRequest): Promise<Host> {
  validateNewMachineName(req.name);
  return store.withLock(req.name, async () => {
    if (store.exists(req.name)) throw new HostAlreadyExistsError(req.name);
    const { log } = req;
    const mod = await loadDriver(req.driverName);
    const machineDir = store.machineDir(req.name);
    // The record exists from just before driver.create(); until then there is nothing to save.
    let record: HostConfig | undefined;
    const saveProgress = async () => {
      if (!record) return;
      record.Driver = driver.config();
      await store.save(record);
    };
    const driver = mod.newDriver({ ...driverContext(store, req.name, log, req.signal), bootTimeoutMs: req.sshTimeoutMs ?? 120_000, saveProgress });
    await driver.setConfigFromFlags(req.driverFlags);
    const files = machineFiles(machineDir);
    const storeCerts = storeCertFiles(store.certsDir);

    const { ensureCertificates } = await import('../certs/generate.js');
    const paths = {
      caCertPath: req.tls.caCertPath || storeCerts.caCert,
      caKeyPath: req.tls.caKeyPath || storeCerts.caKey,
      clientCertPath: req.tls.clientCertPath || storeCerts.clientCert,
      clientKeyPath: req.tls.clientKeyPath || storeCerts.clientKey,
    };
    const { certMatchesCA } = await import('../certs/check.js');
    // Parallel creates (swarm create) must not each make a CA: one makes it, the rest use it.
    // ".certs" cannot clash with a machine: names never start with a dot. Under the lock also
    // when the files exist: regenerate-certs --client-certs replaces the CA and the client pair
    // one rename at a time, and between the two they do not match.
    const made = await store.withLock(CERTS_LOCK, async () => {
      const certsExist = Object.values(paths).every((p) => existsSync(p));
      const made = certsExist ? { created: [] as string[] } : await ensureCertificates({ certsDir: store.certsDir, org: certOrg(), ...paths });
      // A client pair from another CA (a store copied together by hand) makes every TLS call
      // fail with an alert that names nothing: say it here, once, with the fix.
      if (!(await certMatchesCA(paths.clientCertPath, paths.caCertPath))) {
        throw new CertError(
          `The client certificate ${paths.clientCertPath} was not signed by the CA ${paths.caCertPath}: restore the pair that belongs together, or run "${progName()} regenerate-certs --client-certs -f MACHINE..." for every machine`,
        );
      }
      return made;
    });
    if (made.created.length) log.info(`Creating CA and client certificates in ${store.certsDir}...`);

    log.info('Running pre-create checks...');
    try {
      await driver.preCreateCheck();
    } catch (err) {
      if (err instanceof MachineError) throw new PreCreateCheckError(err.message, { cause: err });
      throw err;
    }
    await req.afterChecks?.();
    req.signal?.throwIfAborted();

    const config: HostConfig = {
      ConfigVersion: CURRENT_CONFIG_VERSION,
      Driver: driver.config(),
      DriverName: driver.name,
      HostOptions: {
        Driver: '',
        Memory: 0,
        Disk: 0,
        EngineOptions: req.engine,
        SwarmOptions: defaultSwarmOptions(),
        AuthOptions: {
          CertDir: store.certsDir,
          CaCertPath: paths.caCertPath,
          CaPrivateKeyPath: paths.caKeyPath,
          CaCertRemotePath: '',
          ServerCertPath: files.serverCert,
          ServerKeyPath: files.serverKey,
          ClientKeyPath: paths.clientKeyPath,
          ServerCertRemotePath: '',
          ServerKeyRemotePath: '',
          ClientCertPath: paths.clientCertPath,
          ServerCertSANs: req.tlsSans,
          StorePath: machineDir,
        },
      },
      Name: req.name,
    };
    const host: Host = { name: req.name, config, driver, store };

    log.info('Creating machine...');
    await store.ensureMachineDir(req.name);
    // Saved before the driver makes anything, so that even a crash leaves a record rm can use.
    await store.save(config);
    record = config;
    const interrupted = () => new InterruptedError(`Interrupted: removed what creating "${req.name}" had made`);
    const checkpoint = () => {
      if (req.signal?.aborted) throw interrupted();
    };
    // Provisioning's SSH session, kept for the steps after it: afterProvision's, and the last
    // one on a host we did not make.
    let openSession: SshSession | undefined;
    try {
      checkpoint();
      await driver.create();
      config.Driver = driver.config();
      await store.save(config);
      checkpoint();
      log.info('Waiting for machine to be running, this may take a few minutes...');
      await waitForState(
        driver,
        'Running',
        req.sshTimeoutMs ?? 120_000,
        driver.provisionable
          ? await driver
              .getSSHHostname()
              .then(async (h) => `check that ${h}:${await driver.getSSHPort()} is up and reachable over SSH`)
              .catch(() => '')
          : '',
        req.signal,
      );
      checkpoint();
      if (driver.provisionable) {
        const provisioned = await provisionMachine(host, log, {
          waitSshMs: req.sshTimeoutMs ?? 120_000,
          pin: true,
          backupFirst: driver.existingHost === true,
          proxyFromEnvironment: true,
          ...(req.signal ? { signal: req.signal } : {}),
          keepSession: driver.existingHost === true || req.afterProvision !== undefined,
        });
        openSession = provisioned.session;
        log.info('Docker is up and running!');
      }
      checkpoint();
      if (req.afterProvision) Object.assign(config, await req.afterProvision(host, openSession));
      checkpoint();
      config.Driver = driver.config();
      await store.save(config);
      const session = openSession;
      openSession = undefined;
      if (driver.existingHost && driver.provisionable) await discardHostBackup(host, log, session);
      else session?.close();
    } catch (err) {
      openSession?.close();
      // An abort surfaces as whatever the interrupted step threw; say what happened.
      await rollback(store, host, log, req.signal?.aborted ? interrupted() : err);
    }
    return host;
  });
}

/** The one rollback of a create, whether it failed or was interrupted. */
async function rollback(store: Store, host: Host, log: Logger, cause: unknown): Promise<never> {
  if (cause instanceof InterruptedError) log.info(`Interrupted: removing what creating "${host.name}" made...`);
  log.debug(`create failed, removing what it made: ${(cause as Error).message}`);
  // A host that is not ours to remove gets back what provisioning changed; one where
  // provisioning never kept a copy (no SSH, no sudo) was not changed.
  if (host.hostBackedUp) {
    try {
      await restoreHostAsFound(host, log);
    } catch (restoreErr) {
      throw new MachineError(
        `${(cause as Error).message} (and putting the host back as it was failed: ${(restoreErr as Error).message}; its previous state is kept in ${backupDir(host.name)} on the host)`,
        { cause },
      );
    }
  }
  try {
    await host.driver.remove();
  } catch (removeErr) {
    throw new MachineError(
      `${(cause as Error).message} (and removing the half-made machine failed: ${(removeErr as Error).message}; run "${progName()} rm -f ${host.name}" to clean up)`,
      { cause },
    );
  }
  await store.remove(host.name);
  throw cause;
}
