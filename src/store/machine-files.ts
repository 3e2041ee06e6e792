import { join } from 'node:path';

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
  return {
    config: join(dir, 'config.json'),
    /** The original of a config migrated from an older ConfigVersion, kept once. */
    configBackup: join(dir, 'config.json.bak'),
    /** The host key pinned at create, also read by the system ssh. */
    knownHosts: join(dir, 'known_hosts'),
    /** A key the driver made for the machine. */
    sshKey: join(dir, 'id_ed25519'),
    /** The user's own key, copied in (generic), under Docker Machine's name for it. */
    userKeyCopy: join(dir, 'id_rsa'),
    /** Copies of the store's CA and client pair, where DOCKER_CERT_PATH points. */
    caCert: join(dir, 'ca.pem'),
    clientCert: join(dir, 'cert.pem'),
    clientKey: join(dir, 'key.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
    /** Its OpenSSH client entry (ssh machine-NAME, and the docker CLI over ssh://). */
    sshConfig: join(dir, 'ssh_config'),
    /** The proxy create or provision saw (0600: proxy URLs can carry credentials), for later provisioning. */
    proxy: join(dir, 'proxy.json'),
    /** The background port forwarder (port-forward -d): its pid and forwards, and its log. */
    portForwardPid: join(dir, 'port-forward.pid'),
    portForwardLog: join(dir, 'port-forward.log'),
    /** A VM's serial console: the first place to look when it does not come up. */
    console: join(dir, 'console.log'),
    /** Cloud credentials given as flags: 0600, never in config.json. */
    awsCredentials: join(dir, 'aws-credentials.json'),
    /** QEMU's serial console. */
    serialLog: join(dir, 'serial.log'),
    qemuPid: join(dir, 'qemu.pid'),
    qmpSocket: join(dir, 'qmp.sock'),
    qcow2Disk: join(dir, 'disk.qcow2'),
    vdiDisk: join(dir, 'disk.vdi'),
    /** boot2docker's data disk. */
    vmdkDisk: join(dir, 'disk.vmdk'),
    /** The cloud-init NoCloud seed. */
    seedIso: join(dir, 'seed.iso'),
    boot2dockerIso: join(dir, 'boot2docker.iso'),
  };
}
