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
export function machineFiles(dir: string): MachineFiles {
  return new MachineFiles(join(dir));
}

/**
 * Each name is made when asked for: ls of 500 machines asked three of them per machine, and
 * building all of them each time was 2 MB of strings (a tenth of what ls allocates).
 */
export class MachineFiles {
  // The folder is normalised once and the names appended: thirty path.join calls re-scanned
  // it each time, and on a long store path that loop got hot enough for V8 to compile it,
  // about 3 ms of every `env` (bench/machine.bench.ts).
  private readonly dir: string;
  /** `normalDir` as path.join leaves it (machineFiles() makes it so; Store.machineDir's are). */
  constructor(normalDir: string) {
    this.dir = normalDir.endsWith(sep) ? normalDir : normalDir + sep;
  }
  get config(): string {
    return this.dir + 'config.json';
  }
  /** The original of a config migrated from an older ConfigVersion, kept once. */
  get configBackup(): string {
    return this.dir + 'config.json.bak';
  }
  /** The host key pinned at create, also read by the system ssh. */
  get knownHosts(): string {
    return this.dir + 'known_hosts';
  }
  /** A key the driver made for the machine. */
  get sshKey(): string {
    return this.dir + 'id_ed25519';
  }
  /** The user's own key, copied in (generic), under Docker Machine's name for it. */
  get userKeyCopy(): string {
    return this.dir + 'id_rsa';
  }
  /** Copies of the store's CA and client pair, where DOCKER_CERT_PATH points. */
  get caCert(): string {
    return this.dir + 'ca.pem';
  }
  get clientCert(): string {
    return this.dir + 'cert.pem';
  }
  get clientKey(): string {
    return this.dir + 'key.pem';
  }
  get serverCert(): string {
    return this.dir + 'server.pem';
  }
  get serverKey(): string {
    return this.dir + 'server-key.pem';
  }
  /** Its OpenSSH client entry (ssh machine-NAME, and the docker CLI over ssh://). */
  get sshConfig(): string {
    return this.dir + 'ssh_config';
  }
  /** The proxy create or provision saw (0600: proxy URLs can carry credentials), for later provisioning. */
  get proxy(): string {
    return this.dir + 'proxy.json';
  }
  /** The background port forwarder (port-forward -d): its pid and forwards, and its log. */
  get portForwardPid(): string {
    return this.dir + 'port-forward.pid';
  }
  get portForwardLog(): string {
    return this.dir + 'port-forward.log';
  }
  /** A VM's serial console: the first place to look when it does not come up. */
  get console(): string {
    return this.dir + 'console.log';
  }
  /** Cloud credentials given as flags: 0600, never in config.json. */
  get awsCredentials(): string {
    return this.dir + 'aws-credentials.json';
  }
  /** QEMU's serial console. */
  get serialLog(): string {
    return this.dir + 'serial.log';
  }
  get qemuPid(): string {
    return this.dir + 'qemu.pid';
  }
  get qmpSocket(): string {
    return this.dir + 'qmp.sock';
  }
  get qcow2Disk(): string {
    return this.dir + 'disk.qcow2';
  }
  get vdiDisk(): string {
    return this.dir + 'disk.vdi';
  }
  /** boot2docker's data disk. */
  get vmdkDisk(): string {
    return this.dir + 'disk.vmdk';
  }
  /** The cloud-init NoCloud seed. */
  get seedIso(): string {
    return this.dir + 'seed.iso';
  }
  get boot2dockerIso(): string {
    return this.dir + 'boot2docker.iso';
  }
}
