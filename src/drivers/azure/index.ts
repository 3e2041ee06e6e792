import { existsSync, readFileSync } from 'node:fs';
import { DriverError, UsageError } from '../../errors.js';
import { builtinModule, machineFields, recordedAddress } from '../base.js';
import type { Driver, DriverContext, FlagValues, MachineState } from '../driver.js';
import { newSettings } from '../settings.js';
import { tcpReachable } from '../tcp.js';
import { azureClients, azureError, errorCode, isNotFound, type AzureClients } from './api.js';
import { AzureSettingsSchema, azureFlags, D, parseAzureFlags, parseAzurePort, parseAzureTags, type AzureSettings } from './flags.js';

export { AzureSettingsSchema, type AzureSettings } from './flags.js';

const CREATED_BY_TAG = 'machine:created-by';
const CREATE_ID_TAG = 'machine:create-id';

/** Docker Machine's names for a machine's own resources, so that its stores' machines are found. */
const naming = (name: string) => ({ vm: name, nic: `${name}-nic`, ip: `${name}-ip`, disk: `${name}-os-disk` });

const POWER: Record<string, MachineState> = {
  running: 'Running',
  starting: 'Starting',
  stopping: 'Stopping',
  deallocating: 'Stopping',
  stopped: 'Stopped',
  deallocated: 'Stopped',
};

// Azure refuses to delete what is still in use; a shared resource another machine uses stays.
const IN_USE = /InUse|CannotBeDeleted|NicInUse/;

class AzureDriver implements Driver<AzureSettings> {
  readonly name = 'azure';
  readonly provisionable = true;
  readonly urlFromRecord = true;

  describeRemoval(): string {
    const c = this.config();
    return `Azure VM ${c.MachineName} with its disk, NIC and public IP in resource group ${c.ResourceGroup} (the group itself if it is left empty)`;
  }
  // cloud-init writes the key during first boot; sshd may answer before.
  readonly sshKeySettleMs = 5 * 60_000;
  private cfg: AzureSettings;
  private secret = '';
  private clients?: AzureClients;

  constructor(
    private readonly ctx: DriverContext,
    saved?: AzureSettings,
  ) {
    this.cfg = saved ?? newSettings(AzureSettingsSchema, machineFields(ctx));
  }

  config(): AzureSettings {
    // Docker Machine stored the client secret; machine never does.
    return { ...this.cfg, ClientSecret: '' };
  }

  setConfigFromFlags(flags: FlagValues): void {
    const { settings, clientSecret } = parseAzureFlags(flags, this.ctx.machineDir);
    Object.assign(this.cfg, settings);
    this.secret = clientSecret;
  }

  private async api(): Promise<AzureClients> {
    this.clients ??= await azureClients(this.cfg, this.secret, this.ctx.log);
    return this.clients;
  }

  /** One SDK call (long-running ones awaited through its poller), its error as one line. */
  private async call<T>(doing: string, fn: (c: AzureClients) => Promise<T>): Promise<T> {
    const clients = await this.api();
    try {
      return await fn(clients);
    } catch (err) {
      throw azureError(err, doing);
    }
  }

  /** A GET that answers undefined for "not there". */
  private async find<T>(doing: string, fn: (c: AzureClients) => Promise<T>): Promise<T | undefined> {
    try {
      return await this.call(doing, fn);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private get names() {
    return naming(this.ctx.machineName);
  }
  private get vnet(): { group: string; name: string } {
    const [a, b] = this.cfg.VirtualNetwork.split(':');
    return b ? { group: a!, name: b } : { group: this.cfg.ResourceGroup, name: a! };
  }
  private tags(extra: Record<string, string> = {}): Record<string, string> {
    return { ...extra, [CREATED_BY_TAG]: 'machine', [CREATE_ID_TAG]: this.cfg.CreateId };
  }
  private step(): void {
    this.ctx.signal?.throwIfAborted();
  }

  async preCreateCheck(): Promise<void> {
    if (this.cfg.CustomDataFile && !existsSync(this.cfg.CustomDataFile)) {
      throw new UsageError(`custom-data file ${this.cfg.CustomDataFile} could not be found`);
    }
    // Credentials and the subscription answer here, before anything is made; an existing
    // VM of that name is not ours to touch (Docker Machine's check).
    const vm = await this.find('checking the virtual machine', (c) => c.compute.virtualMachines.get(this.cfg.ResourceGroup, this.names.vm));
    if (vm) throw new UsageError(`Virtual Machine with name ${this.names.vm} already exists in resource group "${this.cfg.ResourceGroup}"`);
  }

  async create(): Promise<void> {
    const { generateKeyPair } = await import('../../ssh/keys.js');
    const publicKey = (await generateKeyPair(this.cfg.SSHKeyPath, `machine-${this.ctx.machineName}`)).publicKey;
    const loc = this.cfg.Location;
    const rg = this.cfg.ResourceGroup;
    // Shared resources are made (and later removed) under one lock, so two creates do not
    // race to make the same network, and an rm does not remove what a create is about to use.
    const shared = await this.ctx.lock(`azure-${this.cfg.SubscriptionID}-${rg}`, async () => {
      if (!(await this.find('reading the resource group', (c) => c.resources.resourceGroups.get(rg)))) {
        this.ctx.log.info(`Creating resource group "${rg}" in ${loc}...`);
        await this.call('creating the resource group', (c) => c.resources.resourceGroups.createOrUpdate(rg, { location: loc, tags: { [CREATED_BY_TAG]: 'machine' } }));
      }
      this.step();
      const nsg = await this.securityGroup();
      this.step();
      const subnetId = await this.subnet();
      this.step();
      let availabilitySetId = '';
      if (this.cfg.AvailabilitySet) {
        const set =
          (await this.find('reading the availability set', (c) => c.compute.availabilitySets.get(rg, this.cfg.AvailabilitySet))) ??
          (await this.call('creating the availability set', (c) =>
            c.compute.availabilitySets.createOrUpdate(rg, this.cfg.AvailabilitySet, {
              location: loc,
              sku: { name: 'Aligned' },
              platformFaultDomainCount: 2,
              platformUpdateDomainCount: 5,
              tags: { [CREATED_BY_TAG]: 'machine' },
            }),
          ));
        availabilitySetId = set.id!;
      }
      return { nsgId: nsg, subnetId, availabilitySetId };
    });
    this.step();

    let publicIpId = '';
    if (!this.cfg.NoPublicIP) {
      // Basic public IPs retired in 2025: Standard ones are always static.
      const ip = await this.call('creating the public IP address', (c) =>
        c.network.publicIPAddresses.beginCreateOrUpdateAndWait(rg, this.names.ip, {
          location: loc,
          sku: { name: 'Standard' },
          publicIPAllocationMethod: 'Static',
          ...(this.cfg.DNSLabel ? { dnsSettings: { domainNameLabel: this.cfg.DNSLabel } } : {}),
          ...(this.cfg.AvailabilityZone ? { zones: [this.cfg.AvailabilityZone] } : {}),
          tags: this.tags(),
        }),
      );
      publicIpId = ip.id!;
      this.step();
    }
    const nic = await this.call('creating the network interface', (c) =>
      c.network.networkInterfaces.beginCreateOrUpdateAndWait(rg, this.names.nic, {
        location: loc,
        networkSecurityGroup: { id: shared.nsgId },
        ipConfigurations: [
          {
            name: 'ipconfig1',
            subnet: { id: shared.subnetId },
            privateIPAllocationMethod: this.cfg.PrivateIPAddr ? 'Static' : 'Dynamic',
            ...(this.cfg.PrivateIPAddr ? { privateIPAddress: this.cfg.PrivateIPAddr } : {}),
            ...(publicIpId ? { publicIPAddress: { id: publicIpId } } : {}),
          },
        ],
        tags: this.tags(),
      }),
    );
    this.step();
    const [publisher, offer, sku, version] = this.cfg.Image.split(':');
    const customData = this.cfg.CustomDataFile ? readFileSync(this.cfg.CustomDataFile).toString('base64') : undefined;
    this.ctx.log.info(`Creating virtual machine "${this.names.vm}" (${this.cfg.Size}, ${this.cfg.Image}); this may take a few minutes...`);
    await this.call('creating the virtual machine', (c) =>
      c.compute.virtualMachines.createOrUpdate(rg, this.names.vm, {
        location: loc,
        tags: this.tags(parseAzureTags(this.cfg.Tags)),
        ...(this.cfg.AvailabilityZone ? { zones: [this.cfg.AvailabilityZone] } : {}),
        hardwareProfile: { vmSize: this.cfg.Size },
        storageProfile: {
          imageReference: { publisher, offer, sku, version },
          osDisk: {
            name: this.names.disk,
            createOption: 'FromImage',
            diskSizeGB: this.cfg.DiskSize,
            managedDisk: { storageAccountType: this.cfg.StorageType },
            // The disk goes with the VM: nothing left to pay for after rm.
            deleteOption: 'Delete',
          },
        },
        osProfile: {
          computerName: this.ctx.machineName,
          adminUsername: this.cfg.SSHUser,
          ...(customData ? { customData } : {}),
          linuxConfiguration: {
            disablePasswordAuthentication: true,
            ssh: { publicKeys: [{ path: `/home/${this.cfg.SSHUser}/.ssh/authorized_keys`, keyData: publicKey.trim() }] },
          },
        },
        networkProfile: { networkInterfaces: [{ id: nic.id!, primary: true }] },
        ...(shared.availabilitySetId ? { availabilitySet: { id: shared.availabilitySetId } } : {}),
      }),
    );
    await this.learnAddresses();
    if (!this.cfg.IPAddress) throw new DriverError(`Virtual machine "${this.names.vm}" has no ${this.cfg.UsePrivateIP ? 'private' : 'public'} IP address`);
  }

  /** The machines' shared group: SSH, the engine and --azure-open-port from anywhere; swarm mode within the network. */
  private async securityGroup(): Promise<string> {
    const rg = this.cfg.ResourceGroup;
    const name = this.cfg.NetworkSecurityGroup;
    const existing = await this.find('reading the network security group', (c) => c.network.networkSecurityGroups.get(rg, name));
    const rules = this.wantedRules();
    const have = new Set((existing?.securityRules ?? []).map((r) => r.name));
    const missing = rules.filter((r) => !have.has(r.name));
    if (existing && !missing.length) return existing.id!;
    // New rules take priorities after the ones already there.
    const used = new Set((existing?.securityRules ?? []).map((r) => r.priority));
    let priority = 300;
    const added = missing.map((r) => {
      while (used.has(priority)) priority += 10;
      used.add(priority);
      return { ...r, priority };
    });
    const nsg = await this.call('setting up the network security group', (c) =>
      c.network.networkSecurityGroups.beginCreateOrUpdateAndWait(rg, name, {
        location: existing?.location ?? this.cfg.Location,
        securityRules: [...(existing?.securityRules ?? []), ...added],
        tags: existing?.tags ?? { [CREATED_BY_TAG]: 'machine' },
      }),
    );
    return nsg.id!;
  }

  private wantedRules() {
    const rule = (name: string, port: number, protocol: 'Tcp' | 'Udp', source: string) => ({
      name,
      protocol,
      sourcePortRange: '*',
      destinationPortRange: String(port),
      sourceAddressPrefix: source,
      destinationAddressPrefix: '*',
      access: 'Allow' as const,
      direction: 'Inbound' as const,
    });
    // Without a public address the machine is reached from its network only.
    const clients = this.cfg.NoPublicIP ? 'VirtualNetwork' : '*';
    const rules = [
      rule('SSHAllowAny', this.cfg.SSHPort || 22, 'Tcp', clients),
      rule(`DockerAllowAny${this.cfg.DockerPort === D.DockerPort ? '' : `_${this.cfg.DockerPort}`}`, this.cfg.DockerPort, 'Tcp', clients),
      rule('SwarmManagement', 2377, 'Tcp', 'VirtualNetwork'),
      rule('SwarmGossipTcp', 7946, 'Tcp', 'VirtualNetwork'),
      rule('SwarmGossipUdp', 7946, 'Udp', 'VirtualNetwork'),
      rule('SwarmOverlay', 4789, 'Udp', 'VirtualNetwork'),
    ];
    for (const spec of this.cfg.OpenPorts) {
      const { port, proto } = parseAzurePort(spec);
      rules.push(rule(`Port${port}${proto}AllowAny`, port, proto, '*'));
    }
    return rules.filter((r, i) => rules.findIndex((x) => x.name === r.name) === i);
  }

  private async subnet(): Promise<string> {
    const { group, name } = this.vnet;
    const vnet = await this.find('reading the virtual network', (c) => c.network.virtualNetworks.get(group, name));
    if (!vnet) {
      const made = await this.call('creating the virtual network', (c) =>
        c.network.virtualNetworks.beginCreateOrUpdateAndWait(group, name, {
          location: this.cfg.Location,
          addressSpace: { addressPrefixes: [this.cfg.SubnetPrefix] },
          subnets: [{ name: this.cfg.SubnetName, addressPrefix: this.cfg.SubnetPrefix }],
          tags: { [CREATED_BY_TAG]: 'machine' },
        }),
      );
      const sub = made.subnets?.find((s) => s.name === this.cfg.SubnetName);
      if (sub?.id) return sub.id;
    }
    const existing = await this.find('reading the subnet', (c) => c.network.subnets.get(group, name, this.cfg.SubnetName));
    if (existing?.id) return existing.id;
    const made = await this.call('creating the subnet', (c) => c.network.subnets.beginCreateOrUpdateAndWait(group, name, this.cfg.SubnetName, { addressPrefix: this.cfg.SubnetPrefix }));
    return made.id!;
  }

  /** Addresses as Azure gives them now: the public one (static), the NIC's private one (dynamic unless given). */
  private async learnAddresses(): Promise<void> {
    const rg = this.cfg.ResourceGroup;
    const nic = await this.find('reading the network interface', (c) => c.network.networkInterfaces.get(rg, this.names.nic));
    this.cfg.PrivateIPAddress = nic?.ipConfigurations?.[0]?.privateIPAddress ?? '';
    let publicIp = '';
    if (!this.cfg.NoPublicIP) {
      const ip = await this.find('reading the public IP address', (c) => c.network.publicIPAddresses.get(rg, this.names.ip));
      publicIp = ip?.ipAddress ?? '';
    }
    this.cfg.IPAddress = this.cfg.UsePrivateIP ? this.cfg.PrivateIPAddress : publicIp;
  }

  /**
   * Removes the VM, its disk, NIC and public IP when they carry this machine's create id, then
   * the shared group, network and resource group when machine made them and nothing else
   * uses them.
   */
  async remove(): Promise<void> {
    const rg = this.cfg.ResourceGroup;
    const ours = (tags?: Record<string, string>) => !this.cfg.CreateId || tags?.[CREATE_ID_TAG] === this.cfg.CreateId;
    const vm = await this.find('reading the virtual machine', (c) => c.compute.virtualMachines.get(rg, this.names.vm));
    if (vm && ours(vm.tags)) await this.call('deleting the virtual machine', (c) => c.compute.virtualMachines.delete(rg, this.names.vm));
    // Azure does not copy the VM's tags to its OS disk: the disk is ours when the VM was, or
    // when it is left over, attached to nothing (the VM went, the disk did not).
    const disk = await this.find('reading the OS disk', (c) => c.compute.disks.get(rg, this.names.disk));
    if (disk && (ours(disk.tags as Record<string, string> | undefined) || (vm && ours(vm.tags)) || !disk.managedBy)) await this.call('deleting the OS disk', (c) => c.compute.disks.delete(rg, this.names.disk));
    const nic = await this.find('reading the network interface', (c) => c.network.networkInterfaces.get(rg, this.names.nic));
    if (nic && ours(nic.tags)) await this.call('deleting the network interface', (c) => c.network.networkInterfaces.beginDeleteAndWait(rg, this.names.nic));
    const ip = await this.find('reading the public IP address', (c) => c.network.publicIPAddresses.get(rg, this.names.ip));
    if (ip && ours(ip.tags)) await this.call('deleting the public IP address', (c) => c.network.publicIPAddresses.beginDeleteAndWait(rg, this.names.ip));
    await this.ctx.lock(`azure-${this.cfg.SubscriptionID}-${rg}`, () => this.removeShared());
  }

  private async removeShared(): Promise<void> {
    const rg = this.cfg.ResourceGroup;
    const madeByMachine = (tags?: Record<string, string>) => tags?.[CREATED_BY_TAG] === 'machine';
    const tryDelete = async (what: string, fn: (c: AzureClients) => Promise<unknown>) => {
      try {
        await this.call(what, fn);
      } catch (err) {
        if (!IN_USE.test(errorCode(err)) && !isNotFound(err)) throw err;
        this.ctx.log.debug(`${what}: still in use, kept`);
      }
    };
    const nsg = await this.find('reading the network security group', (c) => c.network.networkSecurityGroups.get(rg, this.cfg.NetworkSecurityGroup));
    if (nsg && madeByMachine(nsg.tags)) await tryDelete('deleting the network security group', (c) => c.network.networkSecurityGroups.beginDeleteAndWait(rg, this.cfg.NetworkSecurityGroup));
    const { group, name } = this.vnet;
    const vnet = await this.find('reading the virtual network', (c) => c.network.virtualNetworks.get(group, name));
    if (vnet && madeByMachine(vnet.tags)) await tryDelete('deleting the virtual network', (c) => c.network.virtualNetworks.beginDeleteAndWait(group, name));
    if (this.cfg.AvailabilitySet) {
      const set = await this.find('reading the availability set', (c) => c.compute.availabilitySets.get(rg, this.cfg.AvailabilitySet));
      if (set && madeByMachine(set.tags as Record<string, string> | undefined) && !(set.virtualMachines ?? []).length) {
        await tryDelete('deleting the availability set', (c) => c.compute.availabilitySets.delete(rg, this.cfg.AvailabilitySet));
      }
    }
    // The resource group goes only when machine made it and it is empty: deleting a group
    // deletes everything in it.
    const group0 = await this.find('reading the resource group', (c) => c.resources.resourceGroups.get(rg));
    if (group0 && madeByMachine(group0.tags)) {
      const left = await this.call('listing the resource group', async (c) => {
        for await (const _ of c.resources.resources.listByResourceGroup(rg)) return true;
        return false;
      });
      if (!left) await tryDelete('deleting the resource group', (c) => c.resources.resourceGroups.beginDeleteAndWait(rg));
    }
  }

  async start(): Promise<void> {
    await this.call('starting the virtual machine', (c) => c.compute.virtualMachines.start(this.cfg.ResourceGroup, this.names.vm));
    // A dynamic private address may change after a deallocation.
    await this.learnAddresses();
  }
  /** Deallocates: a stopped-but-allocated VM is still billed. */
  async stop(): Promise<void> {
    await this.call('deallocating the virtual machine', (c) => c.compute.virtualMachines.deallocate(this.cfg.ResourceGroup, this.names.vm));
    if (this.cfg.UsePrivateIP && !this.cfg.PrivateIPAddr) this.cfg.IPAddress = '';
  }
  async kill(): Promise<void> {
    await this.call('powering off the virtual machine', (c) => c.compute.virtualMachines.powerOff(this.cfg.ResourceGroup, this.names.vm, { skipShutdown: true }));
  }
  async restart(): Promise<void> {
    await this.call('restarting the virtual machine', (c) => c.compute.virtualMachines.restart(this.cfg.ResourceGroup, this.names.vm));
  }

  async getState(): Promise<MachineState> {
    const view = await this.find('reading the instance view', (c) => c.compute.virtualMachines.instanceView(this.cfg.ResourceGroup, this.names.vm));
    if (!view) return 'None';
    const codes = (view.statuses ?? []).map((s) => s.code ?? '');
    if (codes.some((c) => c === 'ProvisioningState/failed' || c.startsWith('ProvisioningState/failed/'))) return 'Error';
    const power = codes.find((c) => c.startsWith('PowerState/'))?.slice('PowerState/'.length) ?? '';
    const state = POWER[power] ?? 'None';
    if (state === 'Running' && !this.cfg.IPAddress) await this.learnAddresses();
    return state;
  }

  /** For `ls`, without the SDKs: whether the engine's port answers at the recorded address. */
  async quickState(): Promise<MachineState> {
    if (!this.cfg.IPAddress) return 'Stopped';
    return (await tcpReachable(this.cfg.IPAddress, this.cfg.DockerPort, 3000)) ? 'Running' : 'Stopped';
  }

  async getIP(): Promise<string> {
    return recordedAddress(this.cfg, this.ctx.machineName);
  }
  async getPrivateIP(): Promise<string> {
    return this.cfg.PrivateIPAddress || this.cfg.IPAddress;
  }
  async getURL(): Promise<string> {
    return `tcp://${await this.getIP()}:${this.cfg.DockerPort}`;
  }
  async getSSHHostname(): Promise<string> {
    return this.getIP();
  }
  async getSSHPort(): Promise<number> {
    return this.cfg.SSHPort || 22;
  }
  enginePort(): number {
    return this.cfg.DockerPort;
  }
  getSSHUsername(): string {
    return this.cfg.SSHUser || D.SSHUser;
  }
  getSSHKeyPath(): string {
    return this.cfg.SSHKeyPath;
  }
}

export default builtinModule<AzureSettings>({
  name: 'azure',
  schema: AzureSettingsSchema,
  flags: azureFlags,
  newDriver: (ctx, saved) => new AzureDriver(ctx, saved),
});
