import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, progName } from '../../errors.js';
import { flagString } from '../base.js';
import type { FlagSpec, FlagValues } from '../driver.js';
import { bool, defaultsOf, int, num, settingsSchema, str, type SettingsOf } from '../settings.js';
import { DockerHostError, parseDockerHost } from './engine-api.js';

// Not $DOCKER_HOST: after `eval $(machine env X)` that points at a machine, and a machine
// made inside another machine is rarely what was meant.
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';
export const DEFAULT_IMAGE = 'machine-host:bookworm';
export const ENGINE_IMAGE = 'machine-host:bookworm-engine';
/** The driver's name: in --driver, in config.json, in the engine's provider= label. */
export const DOCKER_DRIVER_NAME = 'docker';
export const DEFAULT_NETWORK = 'machine';
/** Below this, systemd, sshd and dockerd do not all fit. */
export const MIN_MEMORY_MB = 64;

/** What config.json keeps of a docker-driver machine. */
export const DockerSettingsSchema = settingsSchema({
  DockerHost: str(DEFAULT_DOCKER_HOST),
  /** ca.pem, cert.pem and key.pem of a TLS engine at tcp://. */
  DockerCertPath: str(),
  Image: str(DEFAULT_IMAGE),
  Network: str(DEFAULT_NETWORK),
  /** The network's subnet when the machine was made (fixed addresses come from it). */
  NetworkSubnet: str(),
  CPUs: num(0),
  /** MB; 0 = no limit. */
  Memory: int(0),
  PublishSSH: bool(),
  ContainerID: str(),
  VolumeName: str(),
  /** The address claimed for the machine on its network; '' where the engine picks. */
  StaticIP: str(),
  PublishedSSHPort: int(0),
  PublishedEnginePort: int(0),
});
export type DockerSettings = SettingsOf<typeof DockerSettingsSchema>;
const D = defaultsOf(DockerSettingsSchema);

export const dockerFlags: FlagSpec[] = [
  { name: 'docker-host', type: 'string', description: 'Docker engine that runs the machine containers (unix:///PATH or tcp://HOST:PORT)', default: D.DockerHost, env: 'MACHINE_DOCKER_HOST' },
  { name: 'docker-cert-path', type: 'string', description: 'Directory with ca.pem, cert.pem and key.pem for a TLS engine at tcp://', env: 'MACHINE_DOCKER_CERT_PATH' },
  { name: 'docker-image', type: 'string', description: `Base image (systemd + sshd); make it with "${progName()} image build docker"`, default: D.Image, env: 'MACHINE_DOCKER_IMAGE' },
  { name: 'docker-network', type: 'string', description: 'Bridge network for the machines (created if missing)', default: D.Network, env: 'MACHINE_DOCKER_NETWORK' },
  { name: 'docker-cpus', type: 'string', description: 'CPUs for the machine (e.g. 1.5; 0 = no limit)', default: String(D.CPUs), env: 'MACHINE_DOCKER_CPUS' },
  { name: 'docker-memory', type: 'int', description: 'Memory for the machine in MB (0 = no limit)', default: D.Memory, env: 'MACHINE_DOCKER_MEMORY' },
  { name: 'docker-publish-ssh', type: 'bool', description: 'Publish SSH and the engine port on 127.0.0.1 (for engines whose bridge IPs are not reachable, like Docker Desktop)' },
];

export type DockerFlagSettings = Pick<DockerSettings, 'DockerHost' | 'DockerCertPath' | 'Image' | 'Network' | 'CPUs' | 'Memory' | 'PublishSSH'>;

/** Every check that needs no engine, so bad input fails before anything is made. */
export function parseDockerFlags(flags: FlagValues): DockerFlagSettings {
  const dockerHost = flagString(flags['docker-host'], DEFAULT_DOCKER_HOST) || DEFAULT_DOCKER_HOST;
  const certPath = flagString(flags['docker-cert-path']);
  try {
    parseDockerHost(dockerHost, certPath);
  } catch (err) {
    if (err instanceof DockerHostError) throw new UsageError(err.message);
    throw err;
  }
  if (certPath) {
    const missing = ['ca.pem', 'cert.pem', 'key.pem'].filter((f) => !existsSync(join(certPath, f)));
    if (missing.length) throw new UsageError(`--docker-cert-path "${certPath}" lacks ${missing.join(', ')}: point it at the directory holding the engine's client certificates`);
  }

  const image = flagString(flags['docker-image'], DEFAULT_IMAGE) || DEFAULT_IMAGE;
  if (/\s/.test(image)) throw new UsageError(`--docker-image "${image}" is not an image reference`);

  const network = flagString(flags['docker-network'], DEFAULT_NETWORK) || DEFAULT_NETWORK;
  // The engine's own rule for names; "host" and "none" have no bridge IP to reach.
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(network)) {
    throw new UsageError(`--docker-network "${network}" is not a valid network name (letters, digits, _ . -)`);
  }
  if (network === 'host' || network === 'none') {
    throw new UsageError(`--docker-network ${network} gives the machine no address of its own: use a bridge network`);
  }

  const rawCpus = flags['docker-cpus'] ?? '0';
  const cpus = typeof rawCpus === 'number' ? rawCpus : /^\d*\.?\d+$/.test(String(rawCpus).trim()) ? Number(rawCpus) : NaN;
  if (!Number.isFinite(cpus) || cpus < 0 || (cpus > 0 && cpus < 0.01)) {
    throw new UsageError(`--docker-cpus takes a number of CPUs such as 1 or 1.5, not "${String(rawCpus)}"`);
  }

  const rawMemory = flags['docker-memory'] ?? 0;
  const memoryMB = typeof rawMemory === 'number' ? rawMemory : /^\d+$/.test(String(rawMemory)) ? Number(rawMemory) : NaN;
  if (!Number.isInteger(memoryMB) || memoryMB < 0) {
    throw new UsageError(`--docker-memory takes megabytes as a whole number such as 2048, not "${String(rawMemory)}"`);
  }
  if (memoryMB > 0 && memoryMB < MIN_MEMORY_MB) {
    throw new UsageError(`--docker-memory ${memoryMB} is too little for systemd, sshd and dockerd: give at least ${MIN_MEMORY_MB} (MB), or 0 for no limit`);
  }

  return { DockerHost: dockerHost, DockerCertPath: certPath, Image: image, Network: network, CPUs: cpus, Memory: memoryMB, PublishSSH: flags['docker-publish-ssh'] === true };
}

/** The command that makes a missing base image, with the flags this create used. */
export function imageBuildCommand(s: { dockerHost: string; image: string; certPath?: string }): string {
  // The build runs the docker CLI, which takes a TLS engine's certificates from its environment.
  const parts = s.certPath ? ['DOCKER_TLS_VERIFY=1', `DOCKER_CERT_PATH=${s.certPath}`] : [];
  parts.push(progName(), 'image', 'build', 'docker');
  if (s.dockerHost !== DEFAULT_DOCKER_HOST) parts.push('--docker-host', s.dockerHost);
  if (s.image === ENGINE_IMAGE) parts.push('--engine');
  else if (s.image !== DEFAULT_IMAGE) parts.push('--docker-image', s.image);
  return parts.join(' ');
}
