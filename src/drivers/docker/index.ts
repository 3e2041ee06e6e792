import { DriverError, HostNotRunningError, progName } from '../../errors.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';
import { machineFiles } from '../../store/machine-files.js';
import { builtinModule, machineFields } from '../base.js';
import type { Driver, DriverContext, FlagValues, MachineState } from '../driver.js';
import { newSettings } from '../settings.js';
import { authorizedKeysArchive, containerCreateBody, mapState } from './container.js';
import { EngineApi, EngineApiError, type ContainerInfo } from './engine-api.js';
import { DEFAULT_DOCKER_HOST, DEFAULT_NETWORK, DOCKER_DRIVER_NAME, DockerSettingsSchema, dockerFlags, imageBuildCommand, parseDockerFlags, type DockerSettings } from './flags.js';
import { ensureNetwork, pickAddress, staticPlan, subnetOf } from './network.js';
import { KEY_FROM_ENV_LABEL } from '../../images/labels.js';

const ENGINE_PORT = DEFAULT_ENGINE_PORT;
// systemd halts a machine's services in a second or two, but a nested dockerd gives its own
// containers 10 s to stop: past this the engine kills the machine outright.
const STOP_TIMEOUT_S = 20;
const LABEL_NAME = 'io.machine.name';
const LABEL_STORE = 'io.machine.store';

export class MachineContainerGoneError extends DriverError {
  constructor(machine: string, dockerHost: string) {
    super(`The container of machine "${machine}" is gone from ${dockerHost}: remove the machine with "${progName()} rm ${machine}"`);
  }
}

/** A machine as a system container (systemd, sshd, its own IP) on a Docker engine. */
export class DockerDriver implements Driver<DockerSettings> {
  readonly name = DOCKER_DRIVER_NAME;
  readonly provisionable = true;

  describeRemoval(): string {
    const c = this.config();
    return `container ${c.ContainerID ? c.ContainerID.slice(0, 12) : c.MachineName}${c.VolumeName ? ` and volume ${c.VolumeName}` : ''} on ${c.DockerHost}`;
  }
  private cfg: DockerSettings;
  private apiClient?: EngineApi;
  private readonly isNew: boolean;
  /** The variable through which the image takes the machine's public key, if it does (images/rootfs.ts). */
  private keyFromEnv?: string;

  constructor(
    private readonly ctx: DriverContext,
    saved?: DockerSettings,
  ) {
    this.isNew = !saved;
    this.cfg =
      saved ??
      newSettings(DockerSettingsSchema, {
        ...machineFields(ctx),
        SSHKeyPath: machineFiles(ctx.machineDir).sshKey,
        VolumeName: `machine-${ctx.machineName}-docker`,
      });
  }

  private get api(): EngineApi {
    this.apiClient ??= new EngineApi(this.dockerHost, {
      debug: (l) => this.ctx.log.debug(l),
      certPath: this.cfg.DockerCertPath,
      unreachableHint: this.isNew
        ? 'pass --docker-host to use another engine'
        : `machine "${this.ctx.machineName}" lives on that engine`,
    });
    return this.apiClient;
  }

  private get dockerHost(): string {
    return this.cfg.DockerHost || DEFAULT_DOCKER_HOST;
  }
  private get network(): string {
    return this.cfg.Network || DEFAULT_NETWORK;
  }
  private get volume(): string {
    return this.cfg.VolumeName || `machine-${this.ctx.machineName}-docker`;
  }
  private get published(): boolean {
    return this.cfg.PublishSSH;
  }
  private get labels(): Record<string, string> {
    return { [LABEL_NAME]: this.ctx.machineName, [LABEL_STORE]: this.ctx.storePath };
  }

  config(): DockerSettings {
    return this.cfg;
  }

  setConfigFromFlags(flags: FlagValues): void {
    Object.assign(this.cfg, parseDockerFlags(flags), { SSHUser: 'root', SSHPort: 22 });
    this.apiClient = undefined;
  }

  async preCreateCheck(): Promise<void> {
    const api = this.api;
    await api.ping();
    const image = this.cfg.Image;
    const info = await api.imageInspect(image);
    if (!info) {
      throw new DriverError(
        `Base image "${image}" not found on ${this.dockerHost}: build it with "${imageBuildCommand({ dockerHost: this.dockerHost, image, certPath: this.cfg.DockerCertPath })}"`,
      );
    }
    this.keyFromEnv = info.Config?.Labels?.[KEY_FROM_ENV_LABEL] || undefined;
    const clash = await api.containerInspect(this.ctx.machineName);
    if (clash) {
      throw new DriverError(
        `A container named "${this.ctx.machineName}" already exists on ${this.dockerHost} (${clash.Id.slice(0, 12)}): pick another machine name, or remove that container with "docker rm -f ${this.ctx.machineName}"`,
      );
    }
    // A leftover volume would hand the new machine another engine's images and swarm state.
    if (await api.volumeInspect(this.volume)) {
      throw new DriverError(
        `A volume named "${this.volume}" already exists on ${this.dockerHost}, left by an earlier machine "${this.ctx.machineName}": remove it with "docker volume rm ${this.volume}", or pick another machine name`,
      );
    }
    const cpus = this.cfg.CPUs;
    const memoryMB = this.cfg.Memory;
    if (cpus || memoryMB) {
      const info = await api.info();
      if (cpus > info.NCPU) throw new DriverError(`--docker-cpus ${cpus} is more than the ${info.NCPU} CPUs of the engine at ${this.dockerHost}`);
      const totalMB = Math.floor(info.MemTotal / 2 ** 20);
      if (memoryMB > totalMB) throw new DriverError(`--docker-memory ${memoryMB} is more than the ${totalMB} MB of the engine at ${this.dockerHost}`);
    }
  }

  async create(): Promise<void> {
    const api = this.api;
    const { generateKeyPair } = await import('../../ssh/keys.js');
    const { publicKey } = await generateKeyPair(this.cfg.SSHKeyPath, `machine-${this.ctx.machineName}`);

    const net = await ensureNetwork(api, this.network, { 'io.machine.network': 'true' }, (k, fn) => this.ctx.lock(k, fn), this.ctx.log);
    this.cfg.NetworkSubnet = subnetOf(net);
    await api.volumeCreate(this.volume, this.labels);

    const makeContainer = async () => {
      const ip = await pickAddress(api, net);
      this.ctx.log.debug(ip ? `docker: machine address ${ip} on ${this.network}` : `docker: network ${this.network} has no room set aside for fixed addresses; the engine picks one`);
      const body = containerCreateBody({
        name: this.ctx.machineName,
        image: this.cfg.Image,
        network: this.network,
        ...(ip ? { ipAddress: ip } : {}),
        volume: this.volume,
        cpus: this.cfg.CPUs,
        memoryMB: this.cfg.Memory,
        publish: this.published,
        enginePort: ENGINE_PORT,
        labels: this.labels,
        ...(this.keyFromEnv ? { env: [`${this.keyFromEnv}=${publicKey.trim()}`] } : {}),
      });
      this.cfg.ContainerID = await api.containerCreate(this.ctx.machineName, body);
      this.cfg.StaticIP = ip ?? '';
    };
    // Picking an address and claiming it with a container happen under one lock, or two
    // parallel creates would pick the same one.
    if (staticPlan(net)) await this.ctx.lock(`docker-addresses-${this.network}`, makeContainer);
    else await makeContainer();
    if (!this.keyFromEnv) await api.putArchive(this.cfg.ContainerID, '/root', authorizedKeysArchive(publicKey));
    await api.containerStart(this.cfg.ContainerID);
    await this.addresses();
  }

  /**
   * Whatever create got to: only what carries this machine's labels is removed when the
   * container's id was never recorded, so a clash with someone else's container is safe.
   */
  async remove(): Promise<void> {
    const id = await this.containerId();
    if (id) await this.api.containerRemove(id, { force: true, volumes: true });
    const vol = await this.api.volumeInspect(this.volume);
    if (vol && this.ours(vol.Labels, true)) await this.removeVolume();
  }

  /**
   * The recorded id; without one (a create that stopped early), the container of the
   * machine's name only if its labels say it is this machine's, never a stranger's.
   */
  private async containerId(): Promise<string | undefined> {
    return this.cfg.ContainerID || (await this.ownByName())?.Id;
  }

  private async ownByName(): Promise<ContainerInfo | undefined> {
    const c = await this.api.containerInspect(this.ctx.machineName);
    return c && this.ours(c.Config.Labels) ? c : undefined;
  }

  private ours(labels: Record<string, string> | null | undefined, storeOptional = false): boolean {
    if (labels?.[LABEL_NAME] !== this.ctx.machineName) return false;
    const store = labels[LABEL_STORE];
    return store === this.ctx.storePath || (storeOptional && store === undefined);
  }

  // The engine can still be releasing the container's mounts a moment after removing it.
  private async removeVolume(): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await this.api.volumeRemove(this.volume);
        return;
      } catch (err) {
        if (!(err instanceof EngineApiError && err.status === 409) || i >= 20) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** A 404 means the container went away behind the machine's back. */
  private async onContainer(fn: (id: string) => Promise<void>): Promise<void> {
    const gone = () => new MachineContainerGoneError(this.ctx.machineName, this.dockerHost);
    const id = await this.containerId();
    if (!id) throw gone();
    try {
      await fn(id);
    } catch (err) {
      if (err instanceof EngineApiError && err.status === 404) throw gone();
      throw err;
    }
  }

  async start(): Promise<void> {
    await this.onContainer((id) => this.api.containerStart(id));
  }
  async stop(): Promise<void> {
    await this.onContainer((id) => this.api.containerStop(id, STOP_TIMEOUT_S));
  }
  async restart(): Promise<void> {
    await this.onContainer((id) => this.api.containerRestart(id, STOP_TIMEOUT_S));
  }
  async kill(): Promise<void> {
    await this.onContainer((id) => this.api.containerKill(id, 'SIGKILL'));
  }

  async getState(): Promise<MachineState> {
    return mapState((await this.inspect())?.State.Status);
  }

  private async inspect(): Promise<ContainerInfo | undefined> {
    const id = this.cfg.ContainerID;
    return id ? this.api.containerInspect(id) : this.ownByName();
  }

  /**
   * Read from the engine each time: published ports are new on every start, and a machine
   * on a network without fixed addresses can come back with another IP.
   */
  private async addresses(): Promise<{ ip: string; sshPort: number; enginePort: number }> {
    const c = await this.inspect();
    if (!c?.State.Running) throw new HostNotRunningError(this.ctx.machineName);
    const ep = c.NetworkSettings.Networks[this.network] ?? Object.values(c.NetworkSettings.Networks)[0];
    const ip = ep?.IPAddress ?? '';
    if (!ip) throw new DriverError(`Machine "${this.ctx.machineName}" has no address on network ${this.network}`);
    this.cfg.IPAddress = ip;
    if (!this.published) return { ip, sshPort: 22, enginePort: ENGINE_PORT };
    const port = (p: string) => Number(c.NetworkSettings.Ports[p]?.[0]?.HostPort ?? 0);
    const sshPort = port('22/tcp');
    const enginePort = port(`${ENGINE_PORT}/tcp`);
    if (!sshPort || !enginePort) throw new DriverError(`Machine "${this.ctx.machineName}" runs but its ports are not published on ${this.dockerHost}`);
    Object.assign(this.cfg, { SSHPort: sshPort, PublishedSSHPort: sshPort, PublishedEnginePort: enginePort });
    return { ip, sshPort, enginePort };
  }

  /** The bridge IP, also with published ports: the server certificate names it, and swarm peers use it. */
  async getIP(): Promise<string> {
    return (await this.addresses()).ip;
  }
  async getPrivateIP(): Promise<string> {
    return (await this.addresses()).ip;
  }
  async getURL(): Promise<string> {
    const a = await this.addresses();
    return this.published ? `tcp://127.0.0.1:${a.enginePort}` : `tcp://${a.ip}:${ENGINE_PORT}`;
  }
  async getSSHHostname(): Promise<string> {
    return this.published ? '127.0.0.1' : (await this.addresses()).ip;
  }
  async getSSHPort(): Promise<number> {
    return this.published ? (await this.addresses()).sshPort : 22;
  }
  enginePort(): number {
    return ENGINE_PORT;
  }
  getSSHUsername(): string {
    return 'root';
  }
  getSSHKeyPath(): string {
    return this.cfg.SSHKeyPath;
  }
}

export default builtinModule<DockerSettings>({
  name: DOCKER_DRIVER_NAME,
  schema: DockerSettingsSchema,
  flags: dockerFlags,
  newDriver: (ctx, saved) => new DockerDriver(ctx, saved),
});
