import { existsSync, readFileSync } from 'node:fs';
import type { Instance } from '@aws-sdk/client-ec2';
import { DriverError, UsageError } from '../../errors.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';
import { machineFiles } from '../../store/machine-files.js';
import { builtinModule, flagString, machineFields, recordedAddress } from '../base.js';
import type { Driver, DriverContext, FlagValues, MachineState } from '../driver.js';
import { newSettings } from '../settings.js';
import { awsCode, Ec2Api, type Credentials } from './api.js';
import { D, Ec2SettingsSchema, ec2Flags, parseEc2Flags, type Ec2Settings } from './flags.js';
import { missingPermissions, resolvePlacement, wantedRules, type Placement } from './network.js';
import { findOwned, ownTags, tagSpecifications } from './owned.js';

export { awsError } from './api.js';
export { endpointUrl, Ec2SettingsSchema, type Ec2Settings } from './flags.js';

const UBUNTU_OWNER = '099720109477';
const ENGINE_PORT = DEFAULT_ENGINE_PORT;
const LAUNCH_TIMEOUT_MS = 10 * 60_000;

const STATES: Record<string, MachineState> = {
  pending: 'Starting',
  running: 'Running',
  stopping: 'Stopping',
  'shutting-down': 'Stopping',
  stopped: 'Stopped',
  terminated: 'Error',
};

class AmazonEc2Driver implements Driver<Ec2Settings> {
  readonly name = 'amazonec2';
  readonly provisionable = true;

  describeRemoval(): string {
    const c = this.config();
    const parts = [c.InstanceId ? `EC2 instance ${c.InstanceId} in ${c.Region} and its volume` : `the EC2 instance made for it in ${c.Region}`];
    if (c.KeyName && !c.ExistingKey) parts.push(`key pair ${c.KeyName}`);
    if (c.CreatedSecurityGroupIds.length) parts.push(`security group ${c.CreatedSecurityGroupIds.join(', ')} (if no other machine uses it)`);
    return parts.join(', ');
  }
  // cloud-init puts the key in place during boot; sshd can answer before that.
  readonly sshKeySettleMs = 5 * 60_000;
  private cfg: Ec2Settings;
  private given?: Credentials;
  private placement?: Placement;
  private apiClient?: Ec2Api;

  constructor(
    private readonly ctx: DriverContext,
    saved?: Ec2Settings,
  ) {
    this.cfg = saved ?? newSettings(Ec2SettingsSchema, machineFields(ctx));
  }

  config(): Ec2Settings {
    return this.cfg;
  }

  get api(): Ec2Api {
    this.apiClient ??= new Ec2Api(() => this.cfg, machineFiles(this.ctx.machineDir).awsCredentials, this.ctx.log, this.ctx.signal, this.given);
    return this.apiClient;
  }

  setConfigFromFlags(flags: FlagValues): void {
    Object.assign(this.cfg, parseEc2Flags(flags, this.ctx.machineDir));
    const access = flagString(flags['amazonec2-access-key']);
    if (access) {
      const token = flagString(flags['amazonec2-session-token']);
      this.given = { accessKeyId: access, secretAccessKey: flagString(flags['amazonec2-secret-key']), ...(token ? { sessionToken: token } : {}) };
    }
  }

  /** Every check Docker Machine made before anything is made, and a few it missed. */
  async preCreateCheck(): Promise<void> {
    if (this.cfg.UserDataFile && !existsSync(this.cfg.UserDataFile)) throw new UsageError(`unable to read --amazonec2-userdata file "${this.cfg.UserDataFile}": it does not exist`);
    if (this.cfg.SSHPrivateKeyPath) {
      if (!existsSync(this.cfg.SSHPrivateKeyPath)) throw new UsageError(`--amazonec2-ssh-keypath "${this.cfg.SSHPrivateKeyPath}" does not exist`);
      // Read now: a file that is no private key fails before anything is made.
      const { readPublicKey } = await import('../../ssh/keys.js');
      await readPublicKey(this.cfg.SSHPrivateKeyPath).catch((err: Error) => {
        throw new UsageError(`--amazonec2-ssh-keypath: ${err.message}`);
      });
    }
    // Credentials and region answer here, before anything is made.
    if (this.cfg.AMI) await this.checkImage();
    else this.cfg.AMI = await this.latestUbuntu();
    await this.checkKeyPair();
    this.placement = await resolvePlacement(this.api, this.cfg);
    this.cfg.VpcId = this.placement.vpcId;
    this.cfg.SubnetId = this.placement.subnetId;
    if (this.cfg.SecurityGroupReadOnly) await this.existingGroups(true);
  }

  private async checkImage(): Promise<void> {
    const out = await this.api
      .call('DescribeImages', (m, c, o) => c.send(new m.DescribeImagesCommand({ ImageIds: [this.cfg.AMI] }), o))
      .catch((err: unknown) => {
        if (awsCode(err).startsWith('InvalidAMIID')) return { Images: [] };
        throw err;
      });
    if (!out.Images?.length) throw new UsageError(`AMI ${this.cfg.AMI} not found in region ${this.cfg.Region}: check --amazonec2-ami`);
  }

  private async latestUbuntu(): Promise<string> {
    const out = await this.api.call('DescribeImages', (m, c, o) =>
      c.send(
        new m.DescribeImagesCommand({
          // Canonical's own account: anyone can publish an image with an Ubuntu-like name.
          Owners: [UBUNTU_OWNER],
          Filters: [
            { Name: 'name', Values: ['ubuntu/images/hvm-ssd*/ubuntu-*-24.04-amd64-server-*'] },
            { Name: 'state', Values: ['available'] },
            { Name: 'architecture', Values: ['x86_64'] },
          ],
        }),
        o,
      ),
    );
    const latest = (out.Images ?? []).sort((a, b) => String(b.CreationDate).localeCompare(String(a.CreationDate)))[0];
    if (!latest?.ImageId) throw new DriverError(`No Ubuntu 24.04 image found in ${this.cfg.Region}: pass --amazonec2-ami`);
    return latest.ImageId;
  }

  /** Docker Machine's check: a key pair named as the machine must not exist; one the user names must. */
  private async checkKeyPair(): Promise<void> {
    const name = this.cfg.ExistingKey ? this.cfg.KeyName : this.ctx.machineName;
    const found = await this.api
      .call('DescribeKeyPairs', (m, c, o) => c.send(new m.DescribeKeyPairsCommand({ KeyNames: [name] }), o))
      .then((out) => (out.KeyPairs ?? []).length > 0)
      .catch((err: unknown) => {
        if (awsCode(err) === 'InvalidKeyPair.NotFound') return false;
        throw err;
      });
    if (this.cfg.ExistingKey && !found) throw new UsageError(`There is no keypair with the name ${name}. Please verify the key name provided.`);
    if (!this.cfg.ExistingKey && found) {
      throw new UsageError(`There is already a keypair with the name ${name}.  Please either remove that keypair or use a different machine name.`);
    }
  }

  private async existingGroups(mustAllExist: boolean) {
    const out = await this.api.call('DescribeSecurityGroups', (m, c, o) =>
      c.send(
        new m.DescribeSecurityGroupsCommand({
          Filters: [
            { Name: 'group-name', Values: this.cfg.SecurityGroupNames },
            { Name: 'vpc-id', Values: [this.cfg.VpcId] },
          ],
        }),
        o,
      ),
    );
    const groups = out.SecurityGroups ?? [];
    if (mustAllExist) {
      const missing = this.cfg.SecurityGroupNames.filter((n) => !groups.some((g) => g.GroupName === n));
      if (missing.length) {
        throw new UsageError(`Security group "${missing[0]}" does not exist in ${this.cfg.VpcId}, and --amazonec2-security-group-readonly forbids making it`);
      }
    }
    return groups;
  }

  /** Records what was just made, before the next call: a crash leaves a record rm can finish. */
  private async made(): Promise<void> {
    await this.ctx.saveProgress?.();
  }

  /** Between calls: after an interrupt nothing new starts; the rollback removes what was made. */
  private step(): void {
    this.ctx.signal?.throwIfAborted();
  }

  async create(): Promise<void> {
    if (this.given) {
      const { writeFileAtomic } = await import('../../sys/atomic.js');
      await writeFileAtomic(machineFiles(this.ctx.machineDir).awsCredentials, JSON.stringify(this.given), 0o600);
    }
    const placement = this.placement ?? (await resolvePlacement(this.api, this.cfg));
    const owned = ownTags(this.cfg.CreateId);
    if (!this.cfg.ExistingKey) {
      const publicKey = await this.machineKey();
      this.step();
      await this.api.call('ImportKeyPair', (m, c, o) =>
        c.send(
          new m.ImportKeyPairCommand({
            KeyName: this.ctx.machineName,
            PublicKeyMaterial: Buffer.from(publicKey),
            TagSpecifications: tagSpecifications(['key-pair'], owned),
          }),
          o,
        ),
      );
      this.cfg.KeyName = this.ctx.machineName;
      await this.made();
      this.step();
    }
    this.cfg.SecurityGroupIds = await this.ctx.lock(`aws-sg-${this.cfg.Region}-${placement.vpcId}`, () => this.securityGroups(placement));
    await this.made();
    this.step();

    const tags = [{ Key: 'Name', Value: this.ctx.machineName }, ...owned];
    const extra = this.cfg.Tags.split(',').filter(Boolean);
    for (let i = 0; i + 1 < extra.length; i += 2) tags.push({ Key: extra[i]!, Value: extra[i + 1]! });
    const run = await this.api.call('RunInstances', (m, c, o) =>
      c.send(
        new m.RunInstancesCommand({
          // The same token makes the same launch: a retry, ours or the SDK's, never makes a second instance.
          ClientToken: this.cfg.CreateId,
          ImageId: this.cfg.AMI,
          InstanceType: this.cfg.InstanceType as never,
          MinCount: 1,
          MaxCount: 1,
          KeyName: this.cfg.KeyName,
          Placement: { AvailabilityZone: `${this.cfg.Region}${this.cfg.Zone}` },
          // A public address is asked for explicitly: subnets of custom VPCs rarely map one.
          NetworkInterfaces: [
            {
              DeviceIndex: 0,
              SubnetId: placement.subnetId,
              Groups: this.cfg.SecurityGroupIds,
              AssociatePublicIpAddress: !this.cfg.PrivateIPOnly,
              DeleteOnTermination: true,
            },
          ],
          TagSpecifications: tagSpecifications(['instance', 'volume'], tags),
          BlockDeviceMappings: [{ DeviceName: this.cfg.DeviceName, Ebs: { VolumeSize: this.cfg.RootSize, VolumeType: this.cfg.VolumeType as never, DeleteOnTermination: true } }],
          Monitoring: { Enabled: this.cfg.Monitoring },
          EbsOptimized: this.cfg.UseEbsOptimizedInstance,
          ...(this.cfg.IamInstanceProfile ? { IamInstanceProfile: { Name: this.cfg.IamInstanceProfile } } : {}),
          ...(this.cfg.UserDataFile ? { UserData: readFileSync(this.cfg.UserDataFile).toString('base64') } : {}),
          ...(this.cfg.RequestSpotInstance
            ? {
                InstanceMarketOptions: {
                  MarketType: 'spot',
                  SpotOptions: {
                    ...(this.cfg.SpotPrice ? { MaxPrice: this.cfg.SpotPrice } : {}),
                    ...(this.cfg.BlockDurationMinutes ? { BlockDurationMinutes: this.cfg.BlockDurationMinutes } : {}),
                  },
                },
              }
            : {}),
        }),
        o,
      ),
    );
    this.cfg.InstanceId = run.Instances?.[0]?.InstanceId ?? '';
    if (!this.cfg.InstanceId) throw new DriverError('RunInstances answered without an instance');
    await this.made();
    this.step();
    this.ctx.log.info(`Instance ${this.cfg.InstanceId} launched; waiting for it to run...`);
    this.learnAddresses(await this.waitState('running', LAUNCH_TIMEOUT_MS));
    if (!this.cfg.IPAddress) throw new DriverError(`Instance ${this.cfg.InstanceId} has no ${this.cfg.UsePrivateIP ? 'private' : 'public'} IP address`);
  }

  /** The key the machine is reached with: the user's own (read and copied, never written) or a new one. */
  private async machineKey(): Promise<string> {
    const { generateKeyPair, readPublicKey } = await import('../../ssh/keys.js');
    if (!this.cfg.SSHPrivateKeyPath) return (await generateKeyPair(this.cfg.SSHKeyPath, `machine-${this.ctx.machineName}`)).publicKey;
    const publicKey = await readPublicKey(this.cfg.SSHPrivateKeyPath);
    const { copyFile, chmod, writeFile } = await import('node:fs/promises');
    await copyFile(this.cfg.SSHPrivateKeyPath, this.cfg.SSHKeyPath);
    await chmod(this.cfg.SSHKeyPath, 0o600);
    await writeFile(`${this.cfg.SSHKeyPath}.pub`, `${publicKey}\n`, { mode: 0o644 });
    return publicKey;
  }

  /** The machine's groups: made when missing (each recorded at once), with what the machine needs let in. */
  private async securityGroups(placement: Placement): Promise<string[]> {
    const existing = await this.existingGroups(this.cfg.SecurityGroupReadOnly);
    const ids: string[] = [];
    for (const name of this.cfg.SecurityGroupNames) {
      let group = existing.find((g) => g.GroupName === name);
      if (!group) {
        this.step();
        const made = await this.api.call('CreateSecurityGroup', (m, c, o) =>
          c.send(
            new m.CreateSecurityGroupCommand({
              GroupName: name,
              Description: 'Docker hosts made by machine',
              VpcId: placement.vpcId,
              TagSpecifications: tagSpecifications(['security-group'], ownTags(this.cfg.CreateId)),
            }),
            o,
          ),
        );
        group = { GroupId: made.GroupId!, GroupName: name, IpPermissions: [] };
        this.cfg.CreatedSecurityGroupIds = [...this.cfg.CreatedSecurityGroupIds, made.GroupId!];
        await this.made();
      }
      ids.push(group.GroupId!);
      if (this.cfg.SecurityGroupReadOnly) continue;
      this.step();
      // A machine without a public address is reached from its VPC only; so is its group.
      const missing = missingPermissions(group, wantedRules(this.cfg, ENGINE_PORT, this.cfg.PrivateIPOnly ? placement.vpcCidr : '0.0.0.0/0'));
      if (missing.length) {
        await this.api.call('AuthorizeSecurityGroupIngress', (m, c, o) => c.send(new m.AuthorizeSecurityGroupIngressCommand({ GroupId: group.GroupId!, IpPermissions: missing }), o));
      }
    }
    return ids;
  }

  private async describe(): Promise<Instance | undefined> {
    if (!this.cfg.InstanceId) return undefined;
    try {
      const out = await this.api.call('DescribeInstances', (m, c, o) => c.send(new m.DescribeInstancesCommand({ InstanceIds: [this.cfg.InstanceId] }), o));
      return out.Reservations?.[0]?.Instances?.[0];
    } catch (err) {
      // Right after RunInstances the instance may not be visible yet (eventual consistency).
      if (awsCode(err) === 'InvalidInstanceID.NotFound') return undefined;
      throw err;
    }
  }

  /**
   * Polls until the instance reaches `want`. An instance that ends on its way (a launch
   * refused after RunInstances: volume limits, capacity) fails at once with AWS's reason.
   */
  private async waitState(want: 'running' | 'terminated', timeoutMs: number): Promise<Instance> {
    const deadline = Date.now() + timeoutMs;
    let delay = 250;
    for (;;) {
      if (want !== 'terminated') this.step();
      const inst = await this.describe();
      const state = inst?.State?.Name;
      if (state === want) return inst!;
      if (want === 'running' && (state === 'terminated' || state === 'shutting-down')) {
        const reason = inst?.StateReason?.Message ?? inst?.StateReason?.Code ?? 'no reason given';
        throw new DriverError(`Instance ${this.cfg.InstanceId} was terminated while starting: ${reason}`);
      }
      if (Date.now() > deadline) throw new DriverError(`Instance ${this.cfg.InstanceId} did not reach "${want}" within ${Math.round(timeoutMs / 1000)} s (state: ${state ?? 'not visible'})`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 1.5, 5000);
    }
  }

  /**
   * Addresses as the API gives them now. A stopped instance has none: AWS releases its public
   * address, which may go to someone else before it starts again.
   */
  private learnAddresses(inst: Instance | undefined): void {
    if (inst?.State?.Name !== 'running') {
      if (inst) this.cfg.IPAddress = '';
      return;
    }
    this.cfg.PrivateIPAddress = inst.PrivateIpAddress ?? '';
    this.cfg.IPAddress = (this.cfg.UsePrivateIP ? inst.PrivateIpAddress : inst.PublicIpAddress) ?? '';
  }

  /**
   * Removes the instance, the key pair create imported and the groups it made, including any
   * a crash kept out of the record, found by this create's tag.
   */
  async remove(): Promise<void> {
    const owned = this.cfg.CreateId ? await findOwned(this.api, this.cfg.CreateId) : { instanceIds: [], keyNames: [], groupIds: [] };
    const instances = [...new Set([this.cfg.InstanceId, ...owned.instanceIds].filter(Boolean))];
    for (const id of instances) {
      this.cfg.InstanceId = id;
      const inst = await this.describe();
      if (inst && inst.State?.Name !== 'terminated') {
        await this.api.call('TerminateInstances', (m, c, o) => c.send(new m.TerminateInstancesCommand({ InstanceIds: [id] }), o));
        // Groups can only go once no instance uses them.
        await this.waitState('terminated', LAUNCH_TIMEOUT_MS);
      }
    }
    const keys = new Set(owned.keyNames);
    if (!this.cfg.ExistingKey && this.cfg.KeyName) keys.add(this.cfg.KeyName);
    for (const key of keys) {
      await this.api.call('DeleteKeyPair', (m, c, o) => c.send(new m.DeleteKeyPairCommand({ KeyName: key }), o));
    }
    // A group this machine made goes with it, unless other machines still use it.
    for (const groupId of new Set([...this.cfg.CreatedSecurityGroupIds, ...owned.groupIds])) {
      try {
        await this.api.call('DeleteSecurityGroup', (m, c, o) => c.send(new m.DeleteSecurityGroupCommand({ GroupId: groupId }), o));
      } catch (err) {
        const code = awsCode(err);
        if (code !== 'DependencyViolation' && code !== 'InvalidGroup.NotFound') throw err;
      }
    }
  }

  async start(): Promise<void> {
    await this.api.call('StartInstances', (m, c, o) => c.send(new m.StartInstancesCommand({ InstanceIds: [this.cfg.InstanceId] }), o));
    this.learnAddresses(await this.waitState('running', LAUNCH_TIMEOUT_MS));
  }
  async stop(): Promise<void> {
    await this.api.call('StopInstances', (m, c, o) => c.send(new m.StopInstancesCommand({ InstanceIds: [this.cfg.InstanceId] }), o));
    this.cfg.IPAddress = '';
  }
  async kill(): Promise<void> {
    await this.api.call('StopInstances', (m, c, o) => c.send(new m.StopInstancesCommand({ InstanceIds: [this.cfg.InstanceId], Force: true }), o));
    this.cfg.IPAddress = '';
  }
  async restart(): Promise<void> {
    await this.api.call('RebootInstances', (m, c, o) => c.send(new m.RebootInstancesCommand({ InstanceIds: [this.cfg.InstanceId] }), o));
  }

  async getState(): Promise<MachineState> {
    const inst = await this.describe();
    this.learnAddresses(inst);
    return this.stateOf(inst);
  }

  stateOf(inst: Instance | undefined): MachineState {
    const state = inst?.State?.Name;
    if (state) return STATES[state] ?? 'Error';
    return this.cfg.InstanceId ? 'Error' : 'None';
  }

  /** For `ls`, which asks the API for all machines of a region at once (listStates). */
  matches(inst: Instance): boolean {
    return inst.InstanceId === this.cfg.InstanceId;
  }
  /** Machines that share a region, endpoint and account are asked for in one call. */
  batchKey(): string {
    return JSON.stringify([this.cfg.Region, this.cfg.Endpoint, this.api.credentials()?.accessKeyId ?? '']);
  }
  learn(inst: Instance | undefined): MachineState {
    this.learnAddresses(inst);
    return this.stateOf(inst);
  }

  async getIP(): Promise<string> {
    return recordedAddress(this.cfg, this.ctx.machineName);
  }
  async getPrivateIP(): Promise<string> {
    return this.cfg.PrivateIPAddress || this.cfg.IPAddress;
  }
  async getURL(): Promise<string> {
    return `tcp://${await this.getIP()}:${ENGINE_PORT}`;
  }
  async getSSHHostname(): Promise<string> {
    return this.getIP();
  }
  async getSSHPort(): Promise<number> {
    return this.cfg.SSHPort || 22;
  }
  enginePort(): number {
    return ENGINE_PORT;
  }
  getSSHUsername(): string {
    return this.cfg.SSHUser || D.SSHUser;
  }
  getSSHKeyPath(): string {
    return this.cfg.SSHKeyPath;
  }
}

/**
 * `ls`: one DescribeInstances per region, endpoint and account, however many machines (by
 * filter, which unlike InstanceIds does not fail on an id AWS no longer knows).
 */
async function listStates(drivers: Driver<Ec2Settings>[]): Promise<Array<MachineState | Error>> {
  const ec2 = drivers as AmazonEc2Driver[];
  const groups = new Map<string, AmazonEc2Driver[]>();
  for (const d of ec2) {
    if (!d.config().InstanceId) continue;
    const key = d.batchKey();
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  const results = new Map<AmazonEc2Driver, MachineState | Error>();
  await Promise.all(
    [...groups.values()].map(async (members) => {
      try {
        const ids = members.map((d) => d.config().InstanceId);
        const out = await members[0]!.api.call('DescribeInstances', (m, c, o) => c.send(new m.DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids }] }), o));
        const found = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
        for (const d of members) results.set(d, d.learn(found.find((i) => d.matches(i))));
      } catch (err) {
        for (const d of members) results.set(d, err as Error);
      }
    }),
  );
  return ec2.map((d) => results.get(d) ?? 'None');
}

export default {
  ...builtinModule<Ec2Settings>({
    name: 'amazonec2',
    schema: Ec2SettingsSchema,
    flags: ec2Flags,
    newDriver: (ctx, saved) => new AmazonEc2Driver(ctx, saved),
  }),
  listStates,
};
