import { ProvisionError } from '../errors.js';
import { copyFile, readFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Logger } from '../log.js';
import { rootRemote } from '../provision/remote.js';
import { provisionHost, type ProvisionResult } from '../provision/provision.js';
import { discardScript, restoreScript } from '../provision/restore.js';
import { checkServerCertFor } from '../certs/index.js';
import { followMachine } from './follow.js';
import { machineProxy } from './proxy.js';
import { engineVersionOverSsh, transportOf } from './transport.js';
import { clientTls, type Host } from './host.js';
import { connectHost } from './ssh.js';

export type SshSession = Awaited<ReturnType<typeof connectHost>>;
import { CERTS_LOCK } from '../store/machine-files.js';

export function certOrg(): string {
  try {
    return userInfo().username;
  } catch {
    return 'machine';
  }
}

/** Every name the engine's certificate must cover: the IP, localhost, the URL's host, --tls-san. */
export async function serverCertHosts(host: Host): Promise<string[]> {
  const ip = await host.driver.getIP();
  const urlHost = new URL(await host.driver.getURL()).hostname.replace(/^\[|\]$/g, '');
  const sans = host.config.HostOptions.AuthOptions.ServerCertSANs;
  return [...new Set([ip, urlHost, 'localhost', ...sans].filter(Boolean))];
}

/** Copies the store's CA and client pair into the machine dir, where `env` points the CLI. */
export async function copyClientCerts(host: Host, log: Logger): Promise<void> {
  log.info('Copying certs to the local machine directory...');
  const auth = host.config.HostOptions.AuthOptions;
  const tls = clientTls(host);
  await copyFile(auth.CaCertPath, tls.caCertPath);
  await copyFile(auth.ClientCertPath, tls.clientCertPath);
  await copyFile(auth.ClientKeyPath, tls.clientKeyPath);
  await chmod(tls.clientKeyPath, 0o600);
}

/** The machine's names and addresses its server certificate does not cover. */
function uncovered(host: Host, hosts: string[]): string[] {
  const certPath = host.config.HostOptions.AuthOptions.ServerCertPath;
  return hosts.filter((h) => !checkServerCertFor({ certPath, host: h }).ok);
}

/** Makes the server pair when missing, or when it no longer covers the machine's addresses. */
export async function ensureServerCert(host: Host, log: Logger, force = false): Promise<boolean> {
  const auth = host.config.HostOptions.AuthOptions;
  const hosts = await serverCertHosts(host);
  // A certificate from a CA since replaced (regenerate-certs --client-certs) is as stale as
  // one for an old address: the client, with the new CA, would refuse it.
  const { certMatchesCA } = await import('../certs/check.js');
  const fresh =
    !force &&
    existsSync(auth.ServerCertPath) &&
    existsSync(auth.ServerKeyPath) &&
    uncovered(host, hosts).length === 0 &&
    (await certMatchesCA(auth.ServerCertPath, auth.CaCertPath));
  if (fresh) return false;
  log.info(`Generating server certificate for ${hosts.join(', ')}...`);
  const { generateServerCert } = await import('../certs/generate.js');
  await generateServerCert({
    caCertPath: auth.CaCertPath,
    caKeyPath: auth.CaPrivateKeyPath,
    certPath: auth.ServerCertPath,
    keyPath: auth.ServerKeyPath,
    org: `${certOrg()}.${host.name}`,
    hosts,
  });
  return true;
}

/**
 * A machine that came back on another address (a new DHCP lease, a new public IP) gets a
 * server certificate for it at once, where Docker Machine left users with x509 errors
 * until they ran regenerate-certs.
 */
export async function refreshCertsIfMoved(host: Host, log: Logger): Promise<void> {
  if (transportOf(host.config.HostOptions.EngineOptions) === 'ssh') return;
  if (!host.driver.provisionable || !existsSync(host.config.HostOptions.AuthOptions.ServerCertPath)) return;
  const missing = uncovered(host, await serverCertHosts(host));
  if (!missing.length) return;
  log.info(`"${host.name}" is now at ${missing.join(', ')}, which its certificate does not name: regenerating its certificates...`);
  await provisionMachine(host, log);
}

export async function provisionMachine(
  host: Host,
  log: Logger,
  opts: {
    waitSshMs?: number;
    pin?: boolean;
    forceCerts?: boolean;
    signal?: AbortSignal;
    backupFirst?: boolean;
    proxyFromEnvironment?: boolean;
    /** On success the SSH session stays open and is returned: create's last step reuses it. */
    keepSession?: boolean;
  } = {},
): Promise<ProvisionResult & { session?: SshSession }> {
  // Under the certs lock: a CA replaced meanwhile (regenerate-certs --client-certs) is seen
  // whole or not at all. What goes to the engine is read here too, so that the CA it gets is
  // the one that signed its certificate and the client pair the checks below use.
  const auth = host.config.HostOptions.AuthOptions;
  // Over SSH the engine has no TLS port, so no certificate (the client pair is still copied:
  // switching back to TLS needs it, and it costs nothing).
  const overSsh = transportOf(host.config.HostOptions.EngineOptions) === 'ssh';
  // The SSH login (round trips to the host, or a boot to wait for) goes on while the
  // certificates are made here; the lines still come in Docker Machine's order. It is
  // stopped when the certificates fail: a wait for a booting machine would go on for minutes.
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const connecting = connectHost(host, log, { waitMs: opts.waitSshMs ?? 120_000, pin: opts.pin, signal });
  connecting.catch(() => undefined);
  let certs: { ca: Buffer; serverCert: Buffer; serverKey: Buffer } | undefined;
  let proxy: Awaited<ReturnType<typeof machineProxy>>;
  try {
    certs = await host.store.withLock(CERTS_LOCK, async () => {
      if (overSsh) return undefined;
      await copyClientCerts(host, log);
      await ensureServerCert(host, log, opts.forceCerts);
      return {
        ca: await readFile(clientTls(host).caCertPath),
        serverCert: await readFile(auth.ServerCertPath),
        serverKey: await readFile(auth.ServerKeyPath),
      };
    });
    proxy = await machineProxy(host, opts.proxyFromEnvironment ?? false);
  } catch (err) {
    stop.abort(err);
    void connecting.then((s) => s.close(), () => undefined);
    throw err;
  }
  log.info('Waiting for SSH to be available...');
  const session = await connecting;
  // An interrupt closes the session: the remote command under way (an engine install) ends
  // with it, and create's rollback takes over.
  const onAbort = () => session.close();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let kept = false;
  try {
    const url = await host.driver.getURL();
    const tls = clientTls(host);
    // The TLS client loads while the host runs the provisioning script, a timer turn from
    // now, once that script is on its way.
    const tlsApi = overSsh ? undefined : new Promise((r) => setTimeout(r, 0)).then(() => import('../engine/tls-api.js'));
    const result = await provisionHost({
      remote: rootRemote(session, host.driver.getSSHUsername()),
      sshUser: host.driver.getSSHUsername(),
      machineName: host.name,
      driverName: host.driver.name,
      engine: host.config.HostOptions.EngineOptions,
      // Inside the host; the URL's port differs where a driver publishes it elsewhere.
      enginePort: host.driver.enginePort(),
      ...(certs ? { certs } : {}),
      ...(proxy ? { proxy } : {}),
      log,
      ...(opts.backupFirst ? { backupFirst: true, onBackup: () => (host.hostBackedUp = true) } : {}),
      verify: overSsh
        ? async () => void (await engineVersionOverSsh(session, 5_000))
        : async () => {
            // GET /_ping, as the docker CLI's first call: /version would make the engine run
            // runc and docker-init for their versions, CPU that every create paid for nothing.
            await (await tlsApi!).engineVersionByPing(url, tls, 5_000, (l) => log.debug(l));
          },
    });
    // New certificates, a new CA or a new transport: the ssh entry and docker context follow.
    await followMachine(host, log);
    kept = opts.keepSession === true;
    return kept ? { ...result, session } : result;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (!kept) session.close();
  }
}

/**
 * After a failed create on a host the driver did not make: puts back what provisioning
 * changed (name, /etc/hosts, the engine's drop-in and certificates, its state). Nothing to
 * do when provisioning never got to the host.
 */
export async function restoreHostAsFound(host: Host, log: Logger): Promise<void> {
  const session = await connectHost(host, log, { waitMs: 15_000 });
  try {
    log.info('Restoring what provisioning changed on the host...');
    const r = await rootRemote(session, host.driver.getSSHUsername()).exec('sh -s', { stdin: restoreScript(host.name) + '\n', timeoutMs: 120_000 });
    if (r.code !== 0) throw new ProvisionError(`exit ${r.code}: ${(r.stderr.trim() || r.stdout.trim()).split('\n').slice(-2).join(' | ')}`);
  } finally {
    session.close();
  }
}

/**
 * After a successful create: the copy of the host as found is no longer needed. Over the
 * provisioning's own session when it is still open (a new SSH login costs a fifth of a
 * second), and that session is closed here.
 */
export async function discardHostBackup(host: Host, log: Logger, open?: SshSession): Promise<void> {
  const session = open ?? (await connectHost(host, log));
  try {
    await rootRemote(session, host.driver.getSSHUsername()).run(discardScript(host.name));
  } finally {
    session.close();
  }
}
