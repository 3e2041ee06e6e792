import { existsSync, readFileSync } from 'node:fs';
import { DriverError, UsageError } from '../../errors.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';
import { machineFiles } from '../../store/machine-files.js';
import { builtinModule, flagBool, flagInt, flagList, flagString, machineFields } from '../base.js';
import type { Driver, DriverContext, FlagSpec, FlagValues, MachineState } from '../driver.js';
import { bool, defaultsOf, int, newSettings, settingsSchema, str, strList, type SettingsOf } from '../settings.js';
import { tcpReachable } from '../tcp.js';

// Everything from @aws-sdk/client-ec2 is loaded inside methods: `env`, `ls`, `config` and
// `url` must never pay for the SDK.
type Ec2 = typeof import('@aws-sdk/client-ec2');
const sdk = (): Promise<Ec2> => import('@aws-sdk/client-ec2');

const UBUNTU_OWNER = '099720109477';
const MARKER_TAG = 'machine:created-by';
const ENGINE_PORT = DEFAULT_ENGINE_PORT;

/**
 * What config.json keeps of an amazonec2 machine. Never a credential: keys given as flags go
 * to a 0600 file beside the machine's SSH key.
 */
export const Ec2SettingsSchema = settingsSchema({
  SSHUser: str('ubuntu'),
  Region: str('us-east-1'),
  /** The zone's letter, as Docker Machine takes it. */
  Zone: str('a'),
  AMI: str(),
  InstanceType: str('t3.micro'),
  VpcId: str(),
  SubnetId: str(),
  SecurityGroupNames: strList(['docker-machine']),
  SecurityGroupIds: strList(),
  /** The groups this machine made, which go with it unless others still use them. */
  CreatedSecurityGroupIds: strList(),
  SecurityGroupReadOnly: bool(),
  OpenPorts: strList(),
  /** key1,value1,key2,value2 */
  Tags: str(),
  /** GB */
  RootSize: int(16),
  VolumeType: str('gp3'),
  DeviceName: str('/dev/sda1'),
  IamInstanceProfile: str(),
  KeyName: str(),
  /**
   * The user's own private key (--amazonec2-ssh-keypath), under Docker Machine's name. Only
   * ever read: without a key pair name, its public half is imported and the key is copied
   * into the machine's folder (SSHKeyPath), as Docker Machine did.
   */
  SSHPrivateKeyPath: str(),
  /** The user's own key pair (--amazonec2-keypair-name): rm leaves it; one create imported goes with the machine. */
  ExistingKey: bool(),
  RequestSpotInstance: bool(),
  SpotPrice: str(),
  PrivateIPOnly: bool(),
  UsePrivateIP: bool(),
  Monitoring: bool(),
  UseEbsOptimizedInstance: bool(),
  UserDataFile: str(),
  /** Docker Machine's name: retries of throttled calls (--amazonec2-retries). */
  RetryCount: int(5),
  Endpoint: str(),
  /** --amazonec2-insecure-transport, under Docker Machine's name. */
  DisableSSL: bool(),
  InstanceId: str(),
  PrivateIPAddress: str(),
  // Docker Machine wrote keys from AWS_ACCESS_KEY_ID & co. here. Its stores' machines keep
  // working with them; machine itself never writes them (they stay empty for its machines).
  AccessKey: str(),
  SecretKey: str(),
  SessionToken: str(),
});
export type Ec2Settings = SettingsOf<typeof Ec2SettingsSchema>;
const D = defaultsOf(Ec2SettingsSchema);

/** One line for the user from an AWS error, with what to do about it. */
export function awsError(err: unknown, doing: string): DriverError {
  const e = err as { name?: string; message?: string; Code?: string };
  const code = e.name ?? e.Code ?? 'Error';
  const hints: Record<string, string> = {
    AuthFailure: 'check --amazonec2-access-key/--amazonec2-secret-key, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or your AWS profile',
    UnauthorizedOperation: 'the credentials lack permission for this call',
    InsufficientInstanceCapacity: 'try another --amazonec2-zone or --amazonec2-instance-type, or later',
    InstanceLimitExceeded: 'raise the instance quota for this region or remove unused instances',
    'InvalidAMIID.NotFound': 'check --amazonec2-ami for this region',
    'InvalidAMIID.Malformed': 'check --amazonec2-ami',
    RequestLimitExceeded: 'AWS kept throttling; raise --amazonec2-retries or try again later',
  };
  const hint = hints[code];
  return new DriverError(`AWS ${doing} failed (${code}): ${(e.message ?? '').trim()}${hint ? `: ${hint}` : ''}`, { cause: err });
}

/**
 * --amazonec2-endpoint as a URL. Docker Machine documents HOST:PORT too, which the SDK cannot
 * parse: a scheme is added, http:// with --amazonec2-insecure-transport, else https://.
 */
export function endpointUrl(raw: string, insecure: boolean): string {
  if (!raw || /^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) return raw;
  const url = `${insecure ? 'http' : 'https'}://${raw}`;
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--amazonec2-endpoint "${raw}" is not a URL or HOST:PORT`);
  }
  return url;
}

class AmazonEc2Driver implements Driver<Ec2Settings> {
  readonly name = 'amazonec2';
  readonly provisionable = true;
  // cloud-init puts the key in place during boot; sshd can answer before that.
  readonly sshKeySettleMs = 5 * 60_000;
  private cfg: Ec2Settings;
  private client?: InstanceType<Ec2['EC2Client']>;
  private flags: FlagValues = {};

  constructor(
    private readonly ctx: DriverContext,
    saved?: Ec2Settings,
  ) {
    this.cfg = saved ?? newSettings(Ec2SettingsSchema, machineFields(ctx));
  }

  config(): Ec2Settings {
    return this.cfg;
  }

  /** Credentials given as flags are kept in a 0600 file beside the machine's keys, never in config.json. */
  private credentialsPath(): string {
    return machineFiles(this.ctx.machineDir).awsCredentials;
  }

  private async ec2(): Promise<InstanceType<Ec2['EC2Client']>> {
    if (this.client) return this.client;
    const { EC2Client } = await sdk();
    let credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
    const access = flagString(this.flags['amazonec2-access-key']);
    if (access) {
      credentials = { accessKeyId: access, secretAccessKey: flagString(this.flags['amazonec2-secret-key']), ...(this.flags['amazonec2-session-token'] ? { sessionToken: flagString(this.flags['amazonec2-session-token']) } : {}) };
    } else if (existsSync(this.credentialsPath())) {
      credentials = JSON.parse(readFileSync(this.credentialsPath(), 'utf8'));
    } else if (this.cfg.AccessKey) {
      credentials = { accessKeyId: this.cfg.AccessKey, secretAccessKey: this.cfg.SecretKey, ...(this.cfg.SessionToken ? { sessionToken: this.cfg.SessionToken } : {}) };
    }
    const endpoint = this.cfg.Endpoint;
    this.client = new EC2Client({
      region: this.cfg.Region,
      maxAttempts: this.cfg.RetryCount + 1,
      ...(endpoint ? { endpoint } : {}),
      ...(credentials ? { credentials } : {}),
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    // Every API call under --debug.
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const started = Date.now();
        try {
          const out = await next(args);
          this.ctx.log.debug(`aws ec2 ${context.commandName} -> ok (${Date.now() - started} ms)`);
          return out;
        } catch (err) {
          this.ctx.log.debug(`aws ec2 ${context.commandName} -> ${(err as Error).name} (${Date.now() - started} ms)`);
          throw err;
        }
      },
      { step: 'initialize', name: 'machineDebugLog' },
    );
    return this.client;
  }

  private async call<T>(doing: string, fn: (m: Ec2, c: InstanceType<Ec2['EC2Client']>) => Promise<T>): Promise<T> {
    const m = await sdk();
    try {
      return await fn(m, await this.ec2());
    } catch (err) {
      throw awsError(err, doing);
    }
  }

  setConfigFromFlags(flags: FlagValues): void {
    this.flags = flags;
    const keyPath = flagString(flags['amazonec2-ssh-keypath']);
    const groups = flagList(flags['amazonec2-security-group']);
    const c: Partial<Ec2Settings> = {
      Region: flagString(flags['amazonec2-region'], D.Region) || D.Region,
      Zone: flagString(flags['amazonec2-zone'], D.Zone) || D.Zone,
      AMI: flagString(flags['amazonec2-ami']),
      InstanceType: flagString(flags['amazonec2-instance-type'], D.InstanceType) || D.InstanceType,
      VpcId: flagString(flags['amazonec2-vpc-id']),
      SubnetId: flagString(flags['amazonec2-subnet-id']),
      SecurityGroupNames: groups.length ? groups : D.SecurityGroupNames,
      SecurityGroupReadOnly: flagBool(flags['amazonec2-security-group-readonly']),
      OpenPorts: flagList(flags['amazonec2-open-port']),
      Tags: flagString(flags['amazonec2-tags']),
      RootSize: flagInt(flags['amazonec2-root-size'], D.RootSize),
      VolumeType: flagString(flags['amazonec2-volume-type'], D.VolumeType) || D.VolumeType,
      DeviceName: flagString(flags['amazonec2-device-name'], D.DeviceName) || D.DeviceName,
      IamInstanceProfile: flagString(flags['amazonec2-iam-instance-profile']),
      KeyName: flagString(flags['amazonec2-keypair-name']),
      ExistingKey: flagString(flags['amazonec2-keypair-name']) !== '',
      // With a key pair of the user's, their key is used where it is; otherwise the machine's
      // folder holds the key (a copy of the user's, or one made for the machine).
      SSHKeyPath: flagString(flags['amazonec2-keypair-name']) ? keyPath : keyPath ? machineFiles(this.ctx.machineDir).userKeyCopy : machineFiles(this.ctx.machineDir).sshKey,
      SSHPrivateKeyPath: keyPath,
      SSHUser: flagString(flags['amazonec2-ssh-user'], D.SSHUser) || D.SSHUser,
      SSHPort: flagInt(flags['amazonec2-ssh-port'], D.SSHPort),
      RequestSpotInstance: flagBool(flags['amazonec2-request-spot-instance']),
      SpotPrice: flagString(flags['amazonec2-spot-price']),
      PrivateIPOnly: flagBool(flags['amazonec2-private-address-only']),
      Monitoring: flagBool(flags['amazonec2-monitoring']),
      UseEbsOptimizedInstance: flagBool(flags['amazonec2-use-ebs-optimized-instance']),
      UserDataFile: flagString(flags['amazonec2-userdata']),
      RetryCount: flagInt(flags['amazonec2-retries'], D.RetryCount),
      Endpoint: endpointUrl(flagString(flags['amazonec2-endpoint']), flagBool(flags['amazonec2-insecure-transport'])),
      DisableSSL: flagBool(flags['amazonec2-insecure-transport']),
    };
    c.UsePrivateIP = flagBool(flags['amazonec2-use-private-address']) || c.PrivateIPOnly === true;
    if (c.Tags && c.Tags.split(',').length % 2) throw new UsageError('--amazonec2-tags takes key1,value1,key2,value2');
    if (c.KeyName && !keyPath) throw new UsageError('--amazonec2-keypair-name needs --amazonec2-ssh-keypath (the private key of that key pair)');
    if (c.Endpoint && c.Endpoint.startsWith('http://') && !c.DisableSSL && !/^http:\/\/(127\.|localhost|\[::1\])/.test(c.Endpoint)) {
      throw new UsageError('--amazonec2-endpoint over http:// needs --amazonec2-insecure-transport');
    }
    if (flags['amazonec2-access-key'] && !flags['amazonec2-secret-key']) throw new UsageError('--amazonec2-access-key needs --amazonec2-secret-key');
    Object.assign(this.cfg, c);
  }

  async preCreateCheck(): Promise<void> {
    if (this.cfg.UserDataFile && !existsSync(this.cfg.UserDataFile)) throw new UsageError(`--amazonec2-userdata "${this.cfg.UserDataFile}" does not exist`);
    if (this.cfg.SSHPrivateKeyPath) {
      if (!existsSync(this.cfg.SSHPrivateKeyPath)) throw new UsageError(`--amazonec2-ssh-keypath "${this.cfg.SSHPrivateKeyPath}" does not exist`);
      // Read now: a file that is no private key fails before anything is made.
      const { readPublicKey } = await import('../../ssh/keys.js');
      await readPublicKey(this.cfg.SSHPrivateKeyPath).catch((err: Error) => {
        throw new UsageError(`--amazonec2-ssh-keypath: ${err.message}`);
      });
    }
    // Credentials and region answer before anything is made.
    if (!this.cfg.AMI) this.cfg.AMI = await this.latestUbuntu();
  }

  private async latestUbuntu(): Promise<string> {
    const out = await this.call('DescribeImages', (m, c) =>
      c.send(new m.DescribeImagesCommand({
        Owners: [UBUNTU_OWNER],
        Filters: [{ Name: 'name', Values: ['ubuntu/images/hvm-ssd*/ubuntu-*-24.04-amd64-server-*'] }, { Name: 'state', Values: ['available'] }],
      })),
    );
    const latest = (out.Images ?? []).sort((a, b) => String(b.CreationDate).localeCompare(String(a.CreationDate)))[0];
    if (!latest?.ImageId) throw new DriverError(`No Ubuntu 24.04 image found in ${this.cfg.Region}: pass --amazonec2-ami`);
    return latest.ImageId;
  }

  async create(): Promise<void> {
    if (this.flags['amazonec2-access-key']) {
      const { writeFileAtomic } = await import('../../sys/atomic.js');
      await writeFileAtomic(this.credentialsPath(), JSON.stringify({
        accessKeyId: this.flags['amazonec2-access-key'],
        secretAccessKey: this.flags['amazonec2-secret-key'],
        ...(this.flags['amazonec2-session-token'] ? { sessionToken: this.flags['amazonec2-session-token'] } : {}),
      }), 0o600);
    }
    if (!this.cfg.VpcId) {
      const vpcs = await this.call('DescribeVpcs', (m, c) => c.send(new m.DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] })));
      this.cfg.VpcId = vpcs.Vpcs?.[0]?.VpcId ?? '';
      if (!this.cfg.VpcId) throw new DriverError(`No default VPC in ${this.cfg.Region}: pass --amazonec2-vpc-id and --amazonec2-subnet-id`);
    }
    if (!this.cfg.SubnetId) {
      const az = `${this.cfg.Region}${this.cfg.Zone}`;
      const subnets = await this.call('DescribeSubnets', (m, c) => c.send(new m.DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [this.cfg.VpcId] }] })));
      const s = subnets.Subnets?.find((x) => x.AvailabilityZone === az) ?? subnets.Subnets?.[0];
      if (!s?.SubnetId) throw new DriverError(`No subnet in ${this.cfg.VpcId}: pass --amazonec2-subnet-id`);
      this.cfg.SubnetId = s.SubnetId;
    }
    if (!this.cfg.KeyName) {
      const { generateKeyPair, readPublicKey } = await import('../../ssh/keys.js');
      let publicKey: string;
      if (this.cfg.SSHPrivateKeyPath) {
        // The user's key is read and copied, never written.
        publicKey = await readPublicKey(this.cfg.SSHPrivateKeyPath);
        const { copyFile, chmod, writeFile } = await import('node:fs/promises');
        await copyFile(this.cfg.SSHPrivateKeyPath, this.cfg.SSHKeyPath);
        await chmod(this.cfg.SSHKeyPath, 0o600);
        await writeFile(`${this.cfg.SSHKeyPath}.pub`, `${publicKey}\n`, { mode: 0o644 });
      } else {
        publicKey = (await generateKeyPair(this.cfg.SSHKeyPath, `machine-${this.ctx.machineName}`)).publicKey;
      }
      await this.call('ImportKeyPair', (m, c) => c.send(new m.ImportKeyPairCommand({ KeyName: this.ctx.machineName, PublicKeyMaterial: Buffer.from(publicKey) })));
      this.cfg.KeyName = this.ctx.machineName;
      this.cfg.ExistingKey = false;
    }
    this.cfg.SecurityGroupIds = await this.ctx.lock(`aws-sg-${this.cfg.Region}-${this.cfg.VpcId}`, () => this.securityGroups());
    const tags = [{ Key: 'Name', Value: this.ctx.machineName }, { Key: MARKER_TAG, Value: 'machine' }];
    const extra = this.cfg.Tags.split(',').filter(Boolean);
    for (let i = 0; i + 1 < extra.length; i += 2) tags.push({ Key: extra[i]!, Value: extra[i + 1]! });
    const run = await this.call('RunInstances', (m, c) =>
      c.send(new m.RunInstancesCommand({
        ImageId: this.cfg.AMI,
        InstanceType: this.cfg.InstanceType as never,
        MinCount: 1,
        MaxCount: 1,
        KeyName: this.cfg.KeyName,
        SubnetId: this.cfg.SubnetId,
        SecurityGroupIds: this.cfg.SecurityGroupIds,
        TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
        BlockDeviceMappings: [{ DeviceName: this.cfg.DeviceName, Ebs: { VolumeSize: this.cfg.RootSize, VolumeType: this.cfg.VolumeType as never, DeleteOnTermination: true } }],
        Monitoring: { Enabled: this.cfg.Monitoring === true },
        EbsOptimized: this.cfg.UseEbsOptimizedInstance === true,
        ...(this.cfg.IamInstanceProfile ? { IamInstanceProfile: { Name: this.cfg.IamInstanceProfile } } : {}),
        ...(this.cfg.UserDataFile ? { UserData: readFileSync(this.cfg.UserDataFile).toString('base64') } : {}),
        ...(this.cfg.RequestSpotInstance
          ? { InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { ...(this.cfg.SpotPrice ? { MaxPrice: this.cfg.SpotPrice } : {}) } } }
          : {}),
      })),
    );
    this.cfg.InstanceId = run.Instances?.[0]?.InstanceId ?? '';
    if (!this.cfg.InstanceId) throw new DriverError('RunInstances answered without an instance');
    this.ctx.log.info(`Instance ${this.cfg.InstanceId} launched; waiting for it to run...`);
    await this.waitRunning(10 * 60_000);
  }

  /** The machine's own group(s): made when missing, with SSH, the engine and swarm ports open. */
  private async securityGroups(): Promise<string[]> {
    const ids: string[] = [];
    for (const name of this.cfg.SecurityGroupNames) {
      const found = await this.call('DescribeSecurityGroups', (m, c) =>
        c.send(new m.DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [name] }, { Name: 'vpc-id', Values: [this.cfg.VpcId] }] })),
      );
      let group = found.SecurityGroups?.[0];
      if (!group) {
        if (this.cfg.SecurityGroupReadOnly) throw new DriverError(`Security group "${name}" does not exist and --amazonec2-security-group-readonly is set`);
        const made = await this.call('CreateSecurityGroup', (m, c) => c.send(new m.CreateSecurityGroupCommand({ GroupName: name, Description: 'Docker hosts made by machine', VpcId: this.cfg.VpcId })));
        group = { GroupId: made.GroupId!, GroupName: name, IpPermissions: [] };
        this.cfg.CreatedSecurityGroupIds = [...this.cfg.CreatedSecurityGroupIds, made.GroupId!];
      }
      ids.push(group.GroupId!);
      if (this.cfg.SecurityGroupReadOnly) continue;
      const has = (proto: string, port: number) => (group!.IpPermissions ?? []).some((p) => p.IpProtocol === proto && p.FromPort === port);
      const world = [{ CidrIp: '0.0.0.0/0' }];
      const self = [{ GroupId: group.GroupId! }];
      const wanted: Array<{ IpProtocol: string; FromPort: number; ToPort: number; IpRanges?: typeof world; UserIdGroupPairs?: typeof self }> = [
        { IpProtocol: 'tcp', FromPort: this.cfg.SSHPort, ToPort: this.cfg.SSHPort, IpRanges: world },
        { IpProtocol: 'tcp', FromPort: ENGINE_PORT, ToPort: ENGINE_PORT, IpRanges: world },
        // Swarm mode between members of the group only.
        { IpProtocol: 'tcp', FromPort: 2377, ToPort: 2377, UserIdGroupPairs: self },
        { IpProtocol: 'tcp', FromPort: 7946, ToPort: 7946, UserIdGroupPairs: self },
        { IpProtocol: 'udp', FromPort: 7946, ToPort: 7946, UserIdGroupPairs: self },
        { IpProtocol: 'udp', FromPort: 4789, ToPort: 4789, UserIdGroupPairs: self },
      ];
      for (const spec of this.cfg.OpenPorts) {
        const [port, proto = 'tcp'] = spec.split('/');
        wanted.push({ IpProtocol: proto, FromPort: Number(port), ToPort: Number(port), IpRanges: world });
      }
      const missing = wanted.filter((w) => !has(w.IpProtocol, w.FromPort));
      if (missing.length) {
        await this.call('AuthorizeSecurityGroupIngress', (m, c) => c.send(new m.AuthorizeSecurityGroupIngressCommand({ GroupId: group!.GroupId!, IpPermissions: missing })));
      }
    }
    return ids;
  }

  private async describe(): Promise<import('@aws-sdk/client-ec2').Instance | undefined> {
    if (!this.cfg.InstanceId) return undefined;
    try {
      const m = await sdk();
      const out = await (await this.ec2()).send(new m.DescribeInstancesCommand({ InstanceIds: [this.cfg.InstanceId] }));
      return out.Reservations?.[0]?.Instances?.[0];
    } catch (err) {
      // Right after RunInstances the instance may not be visible yet (eventual consistency).
      if ((err as Error).name === 'InvalidInstanceID.NotFound') return undefined;
      throw awsError(err, 'DescribeInstances');
    }
  }

  private async waitState(want: string, timeoutMs: number): Promise<import('@aws-sdk/client-ec2').Instance> {
    const deadline = Date.now() + timeoutMs;
    let delay = 250;
    for (;;) {
      const inst = await this.describe();
      if (inst?.State?.Name === want) return inst;
      if (Date.now() > deadline) throw new DriverError(`Instance ${this.cfg.InstanceId} did not reach "${want}" within ${Math.round(timeoutMs / 1000)} s (state: ${inst?.State?.Name ?? 'not visible'})`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 1.5, 5000);
    }
  }

  private async waitRunning(timeoutMs: number): Promise<void> {
    const inst = await this.waitState('running', timeoutMs);
    this.cfg.PrivateIPAddress = inst.PrivateIpAddress ?? '';
    this.cfg.IPAddress = (this.cfg.UsePrivateIP ? inst.PrivateIpAddress : inst.PublicIpAddress) ?? '';
    if (!this.cfg.IPAddress) throw new DriverError(`Instance ${this.cfg.InstanceId} has no ${this.cfg.UsePrivateIP ? 'private' : 'public'} IP address`);
  }

  async remove(): Promise<void> {
    if (this.cfg.InstanceId) {
      const inst = await this.describe();
      if (inst && inst.State?.Name !== 'terminated') {
        await this.call('TerminateInstances', (m, c) => c.send(new m.TerminateInstancesCommand({ InstanceIds: [this.cfg.InstanceId] })));
        await this.waitState('terminated', 10 * 60_000);
      }
    }
    if (!this.cfg.ExistingKey && this.cfg.KeyName) {
      await this.call('DeleteKeyPair', (m, c) => c.send(new m.DeleteKeyPairCommand({ KeyName: this.cfg.KeyName })));
    }
    // A group this machine made goes with it, unless other machines still use it.
    for (const groupId of this.cfg.CreatedSecurityGroupIds) {
      const m = await sdk();
      try {
        await (await this.ec2()).send(new m.DeleteSecurityGroupCommand({ GroupId: groupId }));
      } catch (err) {
        const name = (err as Error).name;
        if (name !== 'DependencyViolation' && name !== 'InvalidGroup.NotFound') throw awsError(err, 'DeleteSecurityGroup');
      }
    }
  }

  async start(): Promise<void> {
    await this.call('StartInstances', (m, c) => c.send(new m.StartInstancesCommand({ InstanceIds: [this.cfg.InstanceId] })));
    await this.waitRunning(10 * 60_000);
  }
  async stop(): Promise<void> {
    await this.call('StopInstances', (m, c) => c.send(new m.StopInstancesCommand({ InstanceIds: [this.cfg.InstanceId] })));
  }
  async kill(): Promise<void> {
    await this.call('StopInstances', (m, c) => c.send(new m.StopInstancesCommand({ InstanceIds: [this.cfg.InstanceId], Force: true })));
  }
  async restart(): Promise<void> {
    await this.call('RebootInstances', (m, c) => c.send(new m.RebootInstancesCommand({ InstanceIds: [this.cfg.InstanceId] })));
  }

  async getState(): Promise<MachineState> {
    const inst = await this.describe();
    switch (inst?.State?.Name) {
      case 'running':
        if (!this.cfg.IPAddress || (inst.PublicIpAddress && !this.cfg.UsePrivateIP && inst.PublicIpAddress !== this.cfg.IPAddress)) {
          this.cfg.IPAddress = (this.cfg.UsePrivateIP ? inst.PrivateIpAddress : inst.PublicIpAddress) ?? '';
        }
        return 'Running';
      case 'pending':
        return 'Starting';
      case 'stopping':
      case 'shutting-down':
        return 'Stopping';
      case 'stopped':
        return 'Stopped';
      default:
        return inst || this.cfg.InstanceId ? 'Error' : 'None';
    }
  }

  /** For `ls`: whether SSH answers at the recorded address, without the SDK. */
  async quickState(): Promise<MachineState> {
    if (!this.cfg.IPAddress) return 'Stopped';
    return (await tcpReachable(this.cfg.IPAddress, this.cfg.SSHPort || 22, 3000)) ? 'Running' : 'Stopped';
  }

  async getIP(): Promise<string> {
    if (!this.cfg.IPAddress) throw new DriverError(`Machine "${this.ctx.machineName}" has no IP address yet`);
    return this.cfg.IPAddress;
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
    return this.cfg.SSHUser || 'ubuntu';
  }
  getSSHKeyPath(): string {
    return this.cfg.SSHKeyPath;
  }
}

const f = (name: string, type: FlagSpec['type'], description: string, def?: string | number, env?: string): FlagSpec => ({
  name: `amazonec2-${name}`,
  type,
  description,
  ...(def !== undefined ? { default: def } : {}),
  ...(env ? { env } : {}),
});

export default builtinModule<Ec2Settings>({
  name: 'amazonec2',
  schema: Ec2SettingsSchema,
  flags: [
    // No environment fallback here: the SDK's own chain reads AWS_ACCESS_KEY_ID & co. every
    // time, so nothing from the environment is ever written to the store.
    f('access-key', 'string', 'AWS access key (default: the SDK chain: environment, profiles, SSO, instance role)'),
    f('secret-key', 'string', 'AWS secret key'),
    f('session-token', 'string', 'AWS session token'),
    f('region', 'string', 'Region', D.Region, 'AWS_DEFAULT_REGION'),
    f('zone', 'string', 'Availability zone letter', D.Zone, 'AWS_ZONE'),
    f('ami', 'string', 'AMI (default: the newest official Ubuntu 24.04 of the region)', undefined, 'AWS_AMI'),
    f('instance-type', 'string', 'Instance type', D.InstanceType, 'AWS_INSTANCE_TYPE'),
    f('vpc-id', 'string', 'VPC (default: the default VPC)', undefined, 'AWS_VPC_ID'),
    f('subnet-id', 'string', 'Subnet', undefined, 'AWS_SUBNET_ID'),
    f('security-group', 'stringArray', 'Security group name (repeatable; default docker-machine)', undefined, 'AWS_SECURITY_GROUP'),
    f('security-group-readonly', 'bool', 'Do not create or change security groups'),
    f('open-port', 'stringArray', 'Extra port to open (PORT or PORT/udp; repeatable)'),
    f('tags', 'string', 'Extra tags: key1,value1,key2,value2', undefined, 'AWS_TAGS'),
    f('root-size', 'int', 'Root disk size in GB', D.RootSize, 'AWS_ROOT_SIZE'),
    f('volume-type', 'string', 'Root volume type', D.VolumeType, 'AWS_VOLUME_TYPE'),
    f('device-name', 'string', 'Root device name', D.DeviceName, 'AWS_DEVICE_NAME'),
    f('iam-instance-profile', 'string', 'IAM instance profile', undefined, 'AWS_INSTANCE_PROFILE'),
    f('keypair-name', 'string', 'Existing key pair (with --amazonec2-ssh-keypath)', undefined, 'AWS_KEYPAIR_NAME'),
    f('ssh-keypath', 'string', 'Private key of that key pair', undefined, 'AWS_SSH_KEYPATH'),
    f('ssh-user', 'string', 'SSH user', D.SSHUser, 'AWS_SSH_USER'),
    f('ssh-port', 'int', 'SSH port', D.SSHPort, 'AWS_SSH_PORT'),
    f('request-spot-instance', 'bool', 'Request a spot instance'),
    f('spot-price', 'string', 'Maximum spot price'),
    f('private-address-only', 'bool', 'Only use a private IP address'),
    f('use-private-address', 'bool', 'Reach the machine at its private address'),
    f('monitoring', 'bool', 'Enable CloudWatch detailed monitoring'),
    f('use-ebs-optimized-instance', 'bool', 'Create an EBS-optimized instance'),
    f('userdata', 'string', 'File with user data for the instance', undefined, 'AWS_USERDATA'),
    f('retries', 'int', 'Retries for throttled API calls', D.RetryCount),
    f('endpoint', 'string', 'EC2 API endpoint (for other clouds or a local endpoint)', undefined, 'AWS_ENDPOINT'),
    f('insecure-transport', 'bool', 'Allow an http:// endpoint', undefined, 'AWS_INSECURE_TRANSPORT'),
  ],
  newDriver: (ctx, saved) => new AmazonEc2Driver(ctx, saved),
});
