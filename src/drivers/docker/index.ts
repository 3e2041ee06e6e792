import { join } from 'node:path';
import { DriverError, HostNotRunningError, UsageError, progName } from '../../errors.js';
import { baseDriverConfig, flagString } from '../base.js';
import type { Driver, DriverConfig, DriverContext, DriverModule, FlagValues, MachineState } from '../driver.js';
import { EngineApi, type ContainerInfo } from './engine-api.js';
import { containerCreateBody, mapState } from './container.js';

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';
export const DEFAULT_IMAGE = 'machine-host:bookworm';
const ENGINE_PORT = 2376;

/** A machine as a system container (systemd, sshd, own IP) on a Docker engine. */
class DockerDriver implements Driver {
  readonly name = 'docker';
  readonly provisionable = true;
  private cfg: DriverConfig;
  private apiClient?: EngineApi;

  constructor(
    private readonly ctx: DriverContext,
    saved?: DriverConfig,
  ) {
    this.cfg = saved ?? {
      ...baseDriverConfig(ctx),
      DockerHost: DEFAULT_DOCKER_HOST,
      Image: DEFAULT_IMAGE,
      Network: 'machine',
      CPUs: 0,
      Memory: 0,
      PublishSSH: false,
      ContainerID: '',
      VolumeName: `machine-${ctx.machineName}-docker`,
      EnginePort: ENGINE_PORT,
    };
  }

  private get api(): EngineApi {
    this.apiClient ??= new EngineApi(String(this.cfg.DockerHost), (l) => this.ctx.log.debug(l));
    return this.apiClient;
  }

  private get container(): string {
    return String(this.cfg.ContainerID || this.ctx.machineName);
  }

  config(): DriverConfig {
    return this.cfg;
  }

  setConfigFromFlags(flags: FlagValues): void {
    this.cfg.DockerHost = flagString(flags['docker-host'], DEFAULT_DOCKER_HOST);
    this.cfg.Image = flagString(flags['docker-image'], DEFAULT_IMAGE);
    this.cfg.Network = flagString(flags['docker-network'], 'machine');
    const cpus = Number(flagString(flags['docker-cpus'], '0'));
    if (!Number.isFinite(cpus) || cpus < 0) throw new UsageError(`--docker-cpus takes a number of CPUs (e.g. 1.5), not "${String(flags['docker-cpus'])}"`);
    const memory = Number(flags['docker-memory'] ?? 0);
    if (!Number.isInteger(memory) || memory < 0 || (memory > 0 && memory < 64)) {
      throw new UsageError(`--docker-memory takes megabytes (at least 64), not "${String(flags['docker-memory'])}"`);
    }
    this.cfg.CPUs = cpus;
    this.cfg.Memory = memory;
    this.cfg.PublishSSH = flags['docker-publish-ssh'] === true;
    this.cfg.SSHUser = 'root';
    this.cfg.SSHKeyPath = join(this.ctx.machineDir, 'id_ed25519');
    new EngineApi(String(this.cfg.DockerHost)); // validates the URL form now, before anything is made
  }

  async preCreateCheck(): Promise<void> {
    await this.api.ping();
    if (!(await this.api.imageExists(String(this.cfg.Image)))) {
      throw new DriverError(
        `Base image "${this.cfg.Image}" not found on ${this.cfg.DockerHost}: build it with "${progName()} image build docker${this.cfg.DockerHost !== DEFAULT_DOCKER_HOST ? ` --docker-host ${this.cfg.DockerHost}` : ''}${this.cfg.Image !== DEFAULT_IMAGE ? ` --docker-image ${this.cfg.Image}` : ''}"`,
      );
    }
    const clash = await this.api.containerInspect(this.ctx.machineName);
    if (clash) {
      throw new DriverError(
        `A container named "${this.ctx.machineName}" already exists on ${this.cfg.DockerHost} (${clash.Id.slice(0, 12)}): pick another machine name or remove that container`,
      );
    }
  }

  // Parallel creates would each make a network of that name (the engine does not stop it),
  // hence the store-wide lock.
  private async ensureNetwork(): Promise<void> {
    const name = String(this.cfg.Network);
    // Checked before and after taking the lock: parallel creates then queue only when the
    // network is really missing.
    if (await this.api.networkInspect(name)) return;
    return this.ctx.lock(`docker-network-${name}`, async () => {
      if (await this.api.networkInspect(name)) return;
      // The engine picks a free subnet from its address pools, so it never overlaps another.
      await this.api.call('POST', '/networks/create', {
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: { 'io.machine.network': 'true' },
      });
    });
  }

  async create(): Promise<void> {
    const { generateKeyPair } = await import('../../ssh/keys.js');
    const { publicKey } = await generateKeyPair(this.cfg.SSHKeyPath, `machine-${this.ctx.machineName}`);
    await this.ensureNetwork();
    await this.api.call('POST', '/volumes/create', { Name: this.cfg.VolumeName, Labels: { 'io.machine.name': this.ctx.machineName } });
    const body = containerCreateBody({
      name: this.ctx.machineName,
      image: String(this.cfg.Image),
      network: String(this.cfg.Network),
      volume: String(this.cfg.VolumeName),
      publicKey,
      cpus: Number(this.cfg.CPUs),
      memoryMB: Number(this.cfg.Memory),
      publish: this.cfg.PublishSSH === true,
      enginePort: ENGINE_PORT,
      labels: { 'io.machine.name': this.ctx.machineName, 'io.machine.store': this.ctx.storePath },
    });
    const created = await this.api.call<{ Id: string }>('POST', `/containers/create?name=${encodeURIComponent(this.ctx.machineName)}`, body);
    this.cfg.ContainerID = created.data.Id;
    await this.start();
    await this.refreshAddresses();
  }

  /** Addresses can change when a container restarts: read them from the engine. */
  private async refreshAddresses(info?: ContainerInfo): Promise<ContainerInfo | undefined> {
    const c = info ?? (await this.api.containerInspect(this.container));
    if (!c || !c.State.Running) return c;
    const net = c.NetworkSettings.Networks[String(this.cfg.Network)] ?? Object.values(c.NetworkSettings.Networks)[0];
    this.cfg.IPAddress = net?.IPAddress ?? '';
    if (this.cfg.PublishSSH) {
      const port = (p: string) => Number(c.NetworkSettings.Ports[p]?.[0]?.HostPort ?? 0);
      this.cfg.PublishedSSHPort = port('22/tcp');
      this.cfg.PublishedEnginePort = port(`${ENGINE_PORT}/tcp`);
    }
    return c;
  }

  async remove(): Promise<void> {
    await this.api.call('DELETE', `/containers/${encodeURIComponent(this.container)}?force=1&v=1`, undefined, [404]);
    await this.api.call('DELETE', `/volumes/${encodeURIComponent(String(this.cfg.VolumeName))}`, undefined, [404]);
  }

  async start(): Promise<void> {
    await this.api.call('POST', `/containers/${encodeURIComponent(this.container)}/start`, undefined, [304]);
  }
  async stop(): Promise<void> {
    await this.api.call('POST', `/containers/${encodeURIComponent(this.container)}/stop?t=20`, undefined, [304]);
  }
  async restart(): Promise<void> {
    await this.api.call('POST', `/containers/${encodeURIComponent(this.container)}/restart?t=20`);
  }
  async kill(): Promise<void> {
    await this.api.call('POST', `/containers/${encodeURIComponent(this.container)}/kill`, undefined, [409]);
  }

  async getState(): Promise<MachineState> {
    const c = await this.api.containerInspect(this.container);
    return mapState(c?.State.Status);
  }

  private async running(): Promise<void> {
    const c = await this.refreshAddresses();
    if (!c?.State.Running) throw new HostNotRunningError(this.ctx.machineName);
  }

  async getIP(): Promise<string> {
    if (!this.cfg.IPAddress) await this.running();
    return this.cfg.IPAddress;
  }
  async getPrivateIP(): Promise<string> {
    return this.getIP();
  }
  async getURL(): Promise<string> {
    await this.running();
    if (this.cfg.PublishSSH) return `tcp://127.0.0.1:${this.cfg.PublishedEnginePort}`;
    return `tcp://${this.cfg.IPAddress}:${ENGINE_PORT}`;
  }
  async getSSHHostname(): Promise<string> {
    if (this.cfg.PublishSSH) return '127.0.0.1';
    return this.getIP();
  }
  async getSSHPort(): Promise<number> {
    if (!this.cfg.PublishSSH) return 22;
    if (!this.cfg.PublishedSSHPort) await this.running();
    return Number(this.cfg.PublishedSSHPort);
  }
  getSSHUsername(): string {
    return 'root';
  }
  getSSHKeyPath(): string {
    return this.cfg.SSHKeyPath;
  }
}

const docker: DriverModule = {
  name: 'docker',
  flags: [
    { name: 'docker-host', type: 'string', description: 'Docker engine that runs the machine containers', default: DEFAULT_DOCKER_HOST, env: 'MACHINE_DOCKER_HOST' },
    { name: 'docker-image', type: 'string', description: `Base image (systemd + sshd); make it with "machine image build docker"`, default: DEFAULT_IMAGE, env: 'MACHINE_DOCKER_IMAGE' },
    { name: 'docker-network', type: 'string', description: 'Bridge network for the machines (created if missing)', default: 'machine', env: 'MACHINE_DOCKER_NETWORK' },
    { name: 'docker-cpus', type: 'string', description: 'CPUs for the machine (e.g. 1.5; 0 = no limit)', default: '0' },
    { name: 'docker-memory', type: 'int', description: 'Memory for the machine in MB (0 = no limit)', default: 0 },
    { name: 'docker-publish-ssh', type: 'bool', description: 'Publish SSH and the engine port on 127.0.0.1 (for engines whose bridge IPs are not reachable, like Docker Desktop)' },
  ],
  newDriver: (ctx, saved) => new DockerDriver(ctx, saved),
};
export default docker;
