import { join, sep } from 'node:path';

// Every file name of the store's layout, written once. The names are Docker Machine's where it
// had the file (config.json, the cert pairs, id_rsa for a copied user key), so its stores and
// the scripts that read them keep working.

/** The store lock every writer and reader of certs/ takes: no one sees a half-replaced set. */
export const CERTS_LOCK = '.certs';

/** The store's shared CA and client pair, in certs/. */
export function storeCertFiles(certsDir: string) {
  return {
    caCert: join(certsDir, 'ca.pem'),
    caKey: join(certsDir, 'ca-key.pem'),
    clientCert: join(certsDir, 'cert.pem'),
    clientKey: join(certsDir, 'key.pem'),
  };
}

/** The store's OpenSSH client file: it includes every machine's ssh_config; ~/.ssh/config includes it. */
export function storeSshConfig(root: string): string {
  return join(root, 'ssh_config');
}

/** The store remembers here that the user said no to touching ~/.ssh/config: asked once. */
export function storeSshConfigDeclined(root: string): string {
  return join(root, '.ssh_config-declined');
}

/** What a machine's folder (machines/NAME) holds; each driver uses only its own part. */
export function machineFiles(dir: string) {
  // The folder is normalised once and the names appended: thirty path.join calls re-scanned
  // it each time, and on a long store path that loop got hot enough for V8 to compile it,
  // about 3 ms of every `env` (bench/machine.bench.ts).
  const d = join(dir);
  const at = (name: string) => (d.endsWith(sep) ? d + name : d + sep + name);
  return {
    config: at('config.json'),
    /** The original of a config migrated from an older ConfigVersion, kept once. */
    configBackup: at('config.json.bak'),
    /** The host key pinned at create, also read by the system ssh. */
    knownHosts: at('known_hosts'),
    /** A key the driver made for the machine. */
    sshKey: at('id_ed25519'),
    /** The user's own key, copied in (generic), under Docker Machine's name for it. */
    userKeyCopy: at('id_rsa'),
    /** Copies of the store's CA and client pair, where DOCKER_CERT_PATH points. */
    caCert: at('ca.pem'),
    clientCert: at('cert.pem'),
    clientKey: at('key.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server-key.pem'),
    /** Its OpenSSH client entry (ssh machine-NAME, and the docker CLI over ssh://). */
    sshConfig: at('ssh_config'),
    /** The proxy create or provision saw (0600: proxy URLs can carry credentials), for later provisioning. */
    proxy: at('proxy.json'),
    /** The background port forwarder (port-forward -d): its pid and forwards, and its log. */
    portForwardPid: at('port-forward.pid'),
    portForwardLog: at('port-forward.log'),
    /** A VM's serial console: the first place to look when it does not come up. */
    console: at('console.log'),
    /** Cloud credentials given as flags: 0600, never in config.json. */
    awsCredentials: at('aws-credentials.json'),
    /** QEMU's serial console. */
    serialLog: at('serial.log'),
    qemuPid: at('qemu.pid'),
    qmpSocket: at('qmp.sock'),
    qcow2Disk: at('disk.qcow2'),
    vdiDisk: at('disk.vdi'),
    /** boot2docker's data disk. */
    vmdkDisk: at('disk.vmdk'),
    /** The cloud-init NoCloud seed. */
    seedIso: at('seed.iso'),
    boot2dockerIso: at('boot2docker.iso'),
  };
}
