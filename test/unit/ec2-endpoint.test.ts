import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DeleteTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type DescribeImagesCommandInput,
  type DescribeInstancesCommandInput,
  type DescribeKeyPairsCommandInput,
  type DescribeSecurityGroupsCommandInput,
  type DescribeSubnetsCommandInput,
  type DescribeVpcsCommandInput,
  EC2Client,
  ImportKeyPairCommand,
  type IpPermission,
  RebootInstancesCommand,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ec2Endpoint, type Ec2EndpointOptions, type Faults, type InstanceBackend } from '../ec2/server.js';

// The local EC2 endpoint the amazonec2 driver's tests will use, checked through the real
// SDK: if the SDK cannot read an answer, the driver's tests would only test our mistakes.
let endpoint: Ec2Endpoint | undefined;
afterEach(async () => endpoint?.close());

const ACCESS = 'AKIDMACHINETEST';

async function client(faults?: Faults, accessKeyId = ACCESS, more: Partial<Ec2EndpointOptions> = {}) {
  endpoint = new Ec2Endpoint({ accessKeys: [ACCESS], transitionMs: 50, ...(faults ? { faults } : {}), ...more });
  const url = await endpoint.listen();
  return new EC2Client({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey: 'secret' } });
}

// By the clock, not a count of tries: on a loaded two-core machine (the whole suite at once)
// 100 short polls ran out before a 50 ms transition was seen.
const until = async (check: () => boolean | Promise<boolean>) => {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the endpoint did not reach the state within 15 s');
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Every instance is "reachable" at one address, as a test container would be. */
const backend: InstanceBackend = {
  launch: async () => ({ publicIp: '10.99.0.7', privateIp: '10.99.0.7' }),
  stop: async () => undefined,
  start: async () => ({ publicIp: '10.99.0.7', privateIp: '10.99.0.7' }),
  terminate: async () => undefined,
};

const UBUNTU = 'ami-0fedcba9876543210';
const KEY = Buffer.from('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHt0ZXN0a2V5 test');
const base = { ImageId: UBUNTU, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 } satisfies Partial<RunInstancesCommandInput>;

const fixtures = join(import.meta.dirname, '..', '..', 'drivers-test-fixtures', 'amazonec2');

/** Ids, request ids, tokens and times vary from run to run; the shape is what the fixtures keep. */
function normalise(xml: string): string {
  return xml
    .replace(/<requestId>[0-9a-f]+<\/requestId>/g, '<requestId>REQUEST-ID</requestId>')
    .replace(/<RequestID>[0-9a-f]+<\/RequestID>/g, '<RequestID>REQUEST-ID</RequestID>')
    .replace(/\b(i|r|sg|key)-[0-9a-f]{17}\b/g, '$1-ID')
    .replace(/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z)/g, 'TIMESTAMP')
    .replace(/<clientToken>[^<]+<\/clientToken>/g, '<clientToken>CLIENT-TOKEN</clientToken>')
    .replace(/<keyFingerprint>[0-9a-f:]+<\/keyFingerprint>/g, '<keyFingerprint>FINGERPRINT</keyFingerprint>')
    // Whether the first DescribeInstances still sees "pending" depends on the machine's load;
    // the states themselves are checked through the SDK above.
    .replace(/<instanceState><code>\d+<\/code><name>[a-z-]+<\/name><\/instanceState>/g, '<instanceState><code>CODE</code><name>STATE</name></instanceState>');
}

/**
 * One file per action: the first answer the endpoint gave it, normalised. RECORD_FIXTURES=1
 * writes them; otherwise they must match, so a change of shape is seen in review.
 */
function checkFixtures(exchanges: Array<{ action: string; status: number; body: string }>): void {
  const seen = new Set<string>();
  for (const x of exchanges) {
    if (x.status !== 200 || seen.has(x.action)) continue;
    seen.add(x.action);
    const file = join(fixtures, `${x.action}.xml`);
    const body = normalise(x.body) + '\n';
    if (process.env.RECORD_FIXTURES) {
      mkdirSync(fixtures, { recursive: true });
      writeFileSync(file, body);
    } else {
      expect(existsSync(file), `fixture ${file}`).toBe(true);
      expect(body).toBe(readFileSync(file, 'utf8'));
    }
  }
}

describe('local EC2 endpoint, through @aws-sdk/client-ec2', () => {
  it('answers a whole instance life cycle in shapes the SDK reads', async () => {
    const ec2 = await client();
    const images = await ec2.send(new DescribeImagesCommand({ Owners: ['099720109477'], Filters: [{ Name: 'name', Values: ['ubuntu/images/*'] }] }));
    expect(images.Images?.map((i) => i.ImageId)).toContain(UBUNTU);
    const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }));
    expect(vpcs.Vpcs?.map((v) => v.VpcId)).toEqual([endpoint!.vpcId]);
    const subnets = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [endpoint!.vpcId] }] }));
    expect(subnets.Subnets?.map((s) => s.SubnetId)).toEqual([endpoint!.subnetId, endpoint!.subnetIdB]);
    const key = await ec2.send(new ImportKeyPairCommand({ KeyName: 'm1', PublicKeyMaterial: Buffer.from('ssh-ed25519 AAAA test') }));
    expect(key.KeyName).toBe('m1');
    expect(endpoint!.keyPairs.get('m1')?.publicKey).toBe('ssh-ed25519 AAAA test');
    expect((await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['m1'] }))).KeyPairs?.[0]?.KeyPairId).toBe(key.KeyPairId);
    const sg = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'docker-machine', Description: 'machine', VpcId: endpoint!.vpcId }));
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg.GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
    expect(endpoint!.groups.get(sg.GroupId!)?.rules).toEqual([{ proto: 'tcp', from: 22, to: 22, cidr: '0.0.0.0/0' }]);
    const groups = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['docker-machine'] }, { Name: 'vpc-id', Values: [endpoint!.vpcId] }] }));
    expect(groups.SecurityGroups?.[0]?.IpPermissions).toEqual([{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }], UserIdGroupPairs: [] }]);

    const run = await ec2.send(new RunInstancesCommand({
      ...base, KeyName: 'm1', SecurityGroupIds: [sg.GroupId!],
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'm1' }, { Key: 'machine', Value: 'true' }] }],
    }));
    const id = run.Instances![0]!.InstanceId!;
    expect(run.Instances![0]!.State?.Name).toBe('pending');
    const state = async () => (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
    await until(async () => (await state()).State?.Name === 'running');
    const running = await state();
    expect(running.State).toEqual({ Code: 16, Name: 'running' });
    expect(running.Tags).toEqual([{ Key: 'Name', Value: 'm1' }, { Key: 'machine', Value: 'true' }]);
    expect(running.SecurityGroups?.[0]?.GroupName).toBe('docker-machine');
    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'extra', Value: '1' }] }));
    await ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'extra' }] }));
    expect(endpoint!.instances.get(id)?.tags).toEqual({ Name: 'm1', machine: 'true' });

    const stop = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    expect(stop.StoppingInstances?.[0]?.CurrentState?.Name).toBe('stopping');
    await until(async () => (await state()).State?.Name === 'stopped');
    expect((await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }))).StartingInstances?.[0]?.CurrentState?.Name).toBe('pending');
    await until(async () => (await state()).State?.Name === 'running');
    await ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }));
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await until(async () => (await state()).State?.Name === 'stopped');
    const term = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(term.TerminatingInstances?.[0]?.CurrentState?.Name).toBe('shutting-down');
    await until(async () => (await state()).State?.Name === 'terminated');
    expect((await state()).State?.Name).toBe('terminated');
    await ec2.send(new DeleteKeyPairCommand({ KeyName: 'm1' }));
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg.GroupId! }));
    expect([endpoint!.keyPairs.size, endpoint!.groups.size]).toEqual([0, 0]);
    checkFixtures(endpoint!.exchanges);
  });

  it("speaks EC2's errors: unknown instance, capacity, credentials; the SDK retries throttling", async () => {
    let ec2 = await client();
    await expect(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0000000000000dead'] }))).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound' });
    await expect(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0000000000000dead', 'i-0000000000000beef'] }))).rejects.toMatchObject({
      message: "The instance IDs 'i-0000000000000dead, i-0000000000000beef' do not exist",
    });
    await expect(ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'public-ip', Values: ['1.2.3.4'] }] }))).rejects.toMatchObject({
      name: 'InvalidParameterValue', message: "The filter 'public-ip' is invalid",
    });
    await endpoint!.close();

    ec2 = await client({ noCapacity: true });
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'k', PublicKeyMaterial: KEY }));
    await expect(ec2.send(new RunInstancesCommand({ ...base, InstanceType: 'p5.48xlarge', KeyName: 'k' }))).rejects.toMatchObject({ name: 'InsufficientInstanceCapacity' });
    await endpoint!.close();

    ec2 = await client({ throttleFirst: 2 });
    const images = await ec2.send(new DescribeImagesCommand({}));
    expect(images.Images?.length).toBe(4);
    expect(endpoint!.calls).toEqual(['DescribeImages', 'DescribeImages', 'DescribeImages']);
    await endpoint!.close();

    ec2 = await client(undefined, 'AKIDWRONG');
    await expect(ec2.send(new DescribeImagesCommand({}))).rejects.toMatchObject({ name: 'AuthFailure' });
  });

  it('has a default VPC with two public subnets and a custom VPC with a private one, found by ids and filters', async () => {
    const ec2 = await client();
    const e = endpoint!;
    const vpcIds = async (input: DescribeVpcsCommandInput) => (await ec2.send(new DescribeVpcsCommand(input))).Vpcs?.map((v) => v.VpcId);
    expect(await vpcIds({})).toEqual([e.vpcId, e.customVpcId]);
    expect(await vpcIds({ Filters: [{ Name: 'isDefault', Values: ['false'] }] })).toEqual([e.customVpcId]);
    expect(await vpcIds({ Filters: [{ Name: 'vpc-id', Values: [e.vpcId] }] })).toEqual([e.vpcId]);
    expect(await vpcIds({ VpcIds: [e.customVpcId] })).toEqual([e.customVpcId]);
    await expect(vpcIds({ VpcIds: ['vpc-00000000000000000'] })).rejects.toMatchObject({ name: 'InvalidVpcID.NotFound' });
    const custom = (await ec2.send(new DescribeVpcsCommand({ VpcIds: [e.customVpcId] }))).Vpcs![0]!;
    expect(custom).toMatchObject({ CidrBlock: '10.0.0.0/16', IsDefault: false, State: 'available' });

    const subnets = async (input: DescribeSubnetsCommandInput) => (await ec2.send(new DescribeSubnetsCommand(input))).Subnets ?? [];
    const ids = async (input: DescribeSubnetsCommandInput) => (await subnets(input)).map((s) => s.SubnetId);
    expect(await ids({ Filters: [{ Name: 'vpc-id', Values: [e.customVpcId] }] })).toEqual([e.privateSubnetId]);
    expect(await ids({ Filters: [{ Name: 'availability-zone', Values: ['us-east-1a'] }] })).toEqual([e.subnetId, e.privateSubnetId]);
    expect(await ids({ Filters: [{ Name: 'availability-zone', Values: ['us-east-1a'] }, { Name: 'default-for-az', Values: ['true'] }] })).toEqual([e.subnetId]);
    expect(await ids({ Filters: [{ Name: 'subnet-id', Values: [e.subnetIdB, e.privateSubnetId] }] })).toEqual([e.subnetIdB, e.privateSubnetId]);
    expect(await ids({ SubnetIds: [e.subnetIdB] })).toEqual([e.subnetIdB]);
    await expect(ids({ SubnetIds: ['subnet-00000000000000000'] })).rejects.toMatchObject({ name: 'InvalidSubnetID.NotFound' });
    expect(await subnets({ SubnetIds: [e.privateSubnetId, e.subnetIdB] })).toMatchObject([
      { SubnetId: e.subnetIdB, VpcId: e.vpcId, CidrBlock: '172.31.16.0/20', AvailabilityZone: 'us-east-1b', DefaultForAz: true, MapPublicIpOnLaunch: true, State: 'available' },
      { SubnetId: e.privateSubnetId, VpcId: e.customVpcId, CidrBlock: '10.0.1.0/24', AvailabilityZone: 'us-east-1a', DefaultForAz: false, MapPublicIpOnLaunch: false },
    ]);
  });

  it('gives a public address only when the interface asks for one or the subnet maps one', async () => {
    const ec2 = await client(undefined, ACCESS, { backend });
    const e = endpoint!;
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'k', PublicKeyMaterial: KEY }));
    const launch = async (input: Partial<RunInstancesCommandInput>) => {
      const id = (await ec2.send(new RunInstancesCommand({ ...base, KeyName: 'k', ...input }))).Instances![0]!.InstanceId!;
      const get = async () => (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
      await until(async () => (await get()).State?.Name === 'running');
      const i = await get();
      return { id, publicIp: i.PublicIpAddress, privateIp: i.PrivateIpAddress, subnet: i.SubnetId, vpc: i.VpcId, az: i.Placement?.AvailabilityZone };
    };
    // No subnet: the default subnet in us-east-1a, which maps a public address.
    expect(await launch({})).toMatchObject({ publicIp: '10.99.0.7', privateIp: '10.99.0.7', subnet: e.subnetId, vpc: e.vpcId, az: 'us-east-1a' });
    expect(await launch({ Placement: { AvailabilityZone: 'us-east-1b' } })).toMatchObject({ subnet: e.subnetIdB, az: 'us-east-1b', publicIp: '10.99.0.7' });
    await expect(ec2.send(new RunInstancesCommand({ ...base, Placement: { AvailabilityZone: 'us-east-1z' } }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    // The custom VPC's subnet maps none: only the private address.
    const priv = await launch({ SubnetId: e.privateSubnetId });
    expect(priv).toMatchObject({ publicIp: undefined, privateIp: '10.99.0.7', subnet: e.privateSubnetId, vpc: e.customVpcId });
    expect(e.instances.get(priv.id)).toMatchObject({ associatePublicIp: false, subnetId: e.privateSubnetId, vpcId: e.customVpcId, publicIp: '' });
    // The interface decides over the subnet, both ways.
    const asked = await launch({ NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: e.privateSubnetId, AssociatePublicIpAddress: true, DeleteOnTermination: true }] });
    expect(asked).toMatchObject({ publicIp: '10.99.0.7', subnet: e.privateSubnetId });
    expect(e.instances.get(asked.id)?.associatePublicIp).toBe(true);
    expect(await launch({ NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: e.subnetId, AssociatePublicIpAddress: false }] })).toMatchObject({ publicIp: undefined, subnet: e.subnetId });
    // A restart keeps the decision.
    await ec2.send(new StopInstancesCommand({ InstanceIds: [priv.id] }));
    await until(() => e.instances.get(priv.id)?.state === 'stopped');
    await ec2.send(new StartInstancesCommand({ InstanceIds: [priv.id] }));
    await until(() => e.instances.get(priv.id)?.state === 'running');
    expect(e.instances.get(priv.id)).toMatchObject({ publicIp: '', privateIp: '10.99.0.7' });
  });

  it('refuses what EC2 refuses at RunInstances, and then makes nothing', async () => {
    const ec2 = await client();
    const e = endpoint!;
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'k', PublicKeyMaterial: KEY }));
    const sg = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'g', Description: 'g' }))).GroupId!;
    const run = (input: Partial<RunInstancesCommandInput>) => ec2.send(new RunInstancesCommand({ ...base, KeyName: 'k', ...input }));
    const nic = { DeviceIndex: 0, SubnetId: e.subnetId, Groups: [sg] };
    await expect(run({ NetworkInterfaces: [nic], SecurityGroupIds: [sg] })).rejects.toMatchObject({
      name: 'InvalidParameterCombination', message: 'Network interfaces and an instance-level security groups may not be specified on the same request',
    });
    await expect(run({ NetworkInterfaces: [nic], SubnetId: e.subnetId })).rejects.toMatchObject({
      name: 'InvalidParameterCombination', message: 'Network interfaces and an instance-level subnet ID may not be specified on the same request',
    });
    await expect(run({ SubnetId: 'subnet-00000000000000000' })).rejects.toMatchObject({ name: 'InvalidSubnetID.NotFound' });
    await expect(run({ SecurityGroupIds: ['sg-00000000000000000'] })).rejects.toMatchObject({ name: 'InvalidGroup.NotFound' });
    await expect(run({ SubnetId: e.privateSubnetId, SecurityGroupIds: [sg] })).rejects.toMatchObject({
      name: 'InvalidParameter', message: `Security group ${sg} and subnet ${e.privateSubnetId} belong to different networks.`,
    });
    await expect(run({ NetworkInterfaces: [{ ...nic, SubnetId: e.privateSubnetId }] })).rejects.toMatchObject({ name: 'InvalidParameter' });
    await expect(run({ ImageId: 'ami-00000000000000bad' })).rejects.toMatchObject({ name: 'InvalidAMIID.NotFound' });
    await expect(run({ KeyName: 'nope' })).rejects.toMatchObject({ name: 'InvalidKeyPair.NotFound', message: "The key pair 'nope' does not exist" });
    expect(e.instances.size).toBe(0);
    // The same through the interface is fine and records what was asked.
    const id = (await run({ NetworkInterfaces: [nic] })).Instances![0]!.InstanceId!;
    expect(e.instances.get(id)).toMatchObject({ subnetId: e.subnetId, vpcId: e.vpcId, groups: [sg], associatePublicIp: true });
  });

  it('makes RunInstances idempotent with a client token', async () => {
    const ec2 = await client();
    const e = endpoint!;
    const first = await ec2.send(new RunInstancesCommand({ ...base, ClientToken: 'tok-1' }));
    const again = await ec2.send(new RunInstancesCommand({ ...base, ClientToken: 'tok-1' }));
    expect(again.ReservationId).toBe(first.ReservationId);
    expect(again.Instances?.map((i) => i.InstanceId)).toEqual(first.Instances?.map((i) => i.InstanceId));
    expect(e.instances.size).toBe(1);
    expect(e.live()[0]?.clientToken).toBe('tok-1');
    await expect(ec2.send(new RunInstancesCommand({ ...base, InstanceType: 't3.large', ClientToken: 'tok-1' }))).rejects.toMatchObject({ name: 'IdempotentParameterMismatch' });
    // The SDK makes a new token for each command it is given.
    await ec2.send(new RunInstancesCommand(base));
    await ec2.send(new RunInstancesCommand(base));
    expect(e.instances.size).toBe(3);
    const byToken = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: ['tok-1'] }] }));
    expect(byToken.Reservations?.flatMap((r) => r.Instances!.map((i) => [i.InstanceId, i.ClientToken]))).toEqual([[first.Instances![0]!.InstanceId, 'tok-1']]);
  });

  it('keeps group names per VPC, tags groups, and adds rules all or nothing', async () => {
    const ec2 = await client();
    const e = endpoint!;
    const create = (VpcId: string, tags: Record<string, string> = {}) =>
      ec2.send(new CreateSecurityGroupCommand({
        GroupName: 'docker-machine', Description: 'd', VpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }],
      }));
    const a = (await create(e.vpcId, { owner: 'machine' })).GroupId!;
    await expect(create(e.vpcId)).rejects.toMatchObject({ name: 'InvalidGroup.Duplicate', message: `The security group 'docker-machine' already exists for VPC '${e.vpcId}'` });
    const b = (await create(e.customVpcId, { other: '' })).GroupId!;
    expect(e.groups.get(a)).toMatchObject({ name: 'docker-machine', vpcId: e.vpcId, tags: { owner: 'machine' } });
    expect(e.groups.get(b)).toMatchObject({ name: 'docker-machine', vpcId: e.customVpcId, tags: { other: '' } });

    const authorize = (IpPermissions: IpPermission[]) =>
      ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: a, IpPermissions }));
    await authorize([
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }, { CidrIp: '10.0.0.0/8' }] },
      { IpProtocol: 'udp', FromPort: 7946, ToPort: 7946, UserIdGroupPairs: [{ GroupId: a }] },
    ]);
    const rules = [
      { proto: 'tcp', from: 22, to: 22, cidr: '0.0.0.0/0' },
      { proto: 'tcp', from: 22, to: 22, cidr: '10.0.0.0/8' },
      { proto: 'udp', from: 7946, to: 7946, group: a },
    ];
    expect(e.groups.get(a)?.rules).toEqual(rules);
    // One new rule and one that exists: refused with EC2's words, and the new one is not added.
    await expect(authorize([
      { IpProtocol: 'tcp', FromPort: 2376, ToPort: 2376, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
    ])).rejects.toMatchObject({ name: 'InvalidPermission.Duplicate', message: 'the specified rule "peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW" already exists' });
    await expect(authorize([{ IpProtocol: 'udp', FromPort: 7946, ToPort: 7946, UserIdGroupPairs: [{ GroupId: a }] }])).rejects.toMatchObject({ name: 'InvalidPermission.Duplicate' });
    // A rule twice in one request is refused too.
    await expect(authorize([
      { IpProtocol: 'tcp', FromPort: 2377, ToPort: 2377, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
      { IpProtocol: 'tcp', FromPort: 2377, ToPort: 2377, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
    ])).rejects.toMatchObject({ name: 'InvalidPermission.Duplicate' });
    expect(e.groups.get(a)?.rules).toEqual(rules);
    await expect(authorize([{ IpProtocol: 'tcp', FromPort: 1, ToPort: 1, UserIdGroupPairs: [{ GroupId: 'sg-00000000000000000' }] }])).rejects.toMatchObject({ name: 'InvalidGroup.NotFound' });

    // EC2 answers one permission per protocol and ports, with its peers.
    const [described] = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [a] }))).SecurityGroups!;
    expect(described?.IpPermissions).toEqual([
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }, { CidrIp: '10.0.0.0/8' }], UserIdGroupPairs: [] },
      { IpProtocol: 'udp', FromPort: 7946, ToPort: 7946, IpRanges: [], UserIdGroupPairs: [{ GroupId: a, UserId: '123456789012' }] },
    ]);
    expect(described?.Tags).toEqual([{ Key: 'owner', Value: 'machine' }]);

    const ids = async (input: DescribeSecurityGroupsCommandInput) => (await ec2.send(new DescribeSecurityGroupsCommand(input))).SecurityGroups?.map((g) => g.GroupId);
    expect(await ids({ Filters: [{ Name: 'group-name', Values: ['docker-machine'] }] })).toEqual([a, b]);
    expect(await ids({ Filters: [{ Name: 'group-name', Values: ['docker-*'] }, { Name: 'vpc-id', Values: [e.customVpcId] }] })).toEqual([b]);
    expect(await ids({ Filters: [{ Name: 'group-id', Values: [b] }] })).toEqual([b]);
    expect(await ids({ Filters: [{ Name: 'tag:owner', Values: ['machine'] }] })).toEqual([a]);
    expect(await ids({ Filters: [{ Name: 'tag-key', Values: ['other'] }] })).toEqual([b]);
    // GroupName.N names groups of the default VPC only.
    expect(await ids({ GroupNames: ['docker-machine'] })).toEqual([a]);
    await expect(ids({ GroupNames: ['nope'] })).rejects.toMatchObject({ name: 'InvalidGroup.NotFound' });
    await expect(ids({ GroupIds: ['sg-00000000000000000'] })).rejects.toMatchObject({ name: 'InvalidGroup.NotFound' });

    await expect(ec2.send(new DeleteSecurityGroupCommand({ GroupId: 'sg-00000000000000000' }))).rejects.toMatchObject({ name: 'InvalidGroup.NotFound' });
    const inst = (await ec2.send(new RunInstancesCommand({ ...base, SubnetId: e.privateSubnetId, SecurityGroupIds: [b] }))).Instances![0]!.InstanceId!;
    await expect(ec2.send(new DeleteSecurityGroupCommand({ GroupId: b }))).rejects.toMatchObject({ name: 'DependencyViolation' });
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst] }));
    await until(() => e.instances.get(inst)?.state === 'terminated');
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: b }));
    expect([...e.groups.keys()]).toEqual([a]);
  });

  it('imports key pairs with tags and ids, describes and deletes them by name or id', async () => {
    const ec2 = await client();
    const e = endpoint!;
    const imported = await ec2.send(new ImportKeyPairCommand({ KeyName: 'm1', PublicKeyMaterial: KEY, TagSpecifications: [{ ResourceType: 'key-pair', Tags: [{ Key: 'machine', Value: 'm1' }] }] }));
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'm2', PublicKeyMaterial: KEY }));
    await expect(ec2.send(new ImportKeyPairCommand({ KeyName: 'm2', PublicKeyMaterial: KEY }))).rejects.toMatchObject({ name: 'InvalidKeyPair.Duplicate' });
    await expect(ec2.send(new ImportKeyPairCommand({ KeyName: 'bad', PublicKeyMaterial: Buffer.from('not a key') }))).rejects.toMatchObject({ name: 'InvalidKeyPair.Format' });
    await expect(ec2.send(new ImportKeyPairCommand({ KeyName: 'x', PublicKeyMaterial: KEY, TagSpecifications: [{ ResourceType: 'instance', Tags: [] }] }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    expect(e.keyPairs.get('m1')).toMatchObject({ name: 'm1', keyPairId: imported.KeyPairId, fingerprint: imported.KeyFingerprint, tags: { machine: 'm1' } });
    expect(imported.Tags).toEqual([{ Key: 'machine', Value: 'm1' }]);

    const names = async (input: DescribeKeyPairsCommandInput) => (await ec2.send(new DescribeKeyPairsCommand(input))).KeyPairs?.map((k) => k.KeyName);
    expect(await names({})).toEqual(['m1', 'm2']);
    expect(await names({ KeyNames: ['m2'] })).toEqual(['m2']);
    await expect(names({ KeyNames: ['m3'] })).rejects.toMatchObject({ name: 'InvalidKeyPair.NotFound', message: "The key pair 'm3' does not exist" });
    expect(await names({ KeyPairIds: [imported.KeyPairId!] })).toEqual(['m1']);
    await expect(names({ KeyPairIds: ['key-00000000000000000'] })).rejects.toMatchObject({ name: 'InvalidKeyPair.NotFound' });
    expect(await names({ Filters: [{ Name: 'key-name', Values: ['m?'] }] })).toEqual(['m1', 'm2']);
    expect(await names({ Filters: [{ Name: 'tag:machine', Values: ['m1'] }] })).toEqual(['m1']);
    expect(await names({ Filters: [{ Name: 'tag-key', Values: ['machine'] }] })).toEqual(['m1']);
    const [m1] = (await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['m1'] }))).KeyPairs!;
    expect(m1).toMatchObject({ KeyName: 'm1', KeyPairId: imported.KeyPairId, KeyFingerprint: imported.KeyFingerprint, Tags: [{ Key: 'machine', Value: 'm1' }] });

    await ec2.send(new DeleteKeyPairCommand({ KeyPairId: imported.KeyPairId! }));
    await ec2.send(new DeleteKeyPairCommand({ KeyName: 'never-there' }));
    await ec2.send(new DeleteKeyPairCommand({ KeyName: 'm2' }));
    expect(e.keyPairs.size).toBe(0);
  });

  it("finds images by owner (account, 'self', 'amazon'), id and filters; without an owner, a lookalike is newest", async () => {
    const ec2 = await client();
    const ids = async (input: DescribeImagesCommandInput) => (await ec2.send(new DescribeImagesCommand(input))).Images?.map((i) => i.ImageId);
    const noble = { Name: 'name', Values: ['ubuntu/images/hvm-ssd*/ubuntu-*-24.04-amd64-server-*'] };
    expect(await ids({ Owners: ['099720109477'], Filters: [noble, { Name: 'state', Values: ['available'] }] })).toEqual([UBUNTU, 'ami-00000000000000001']);
    const all = (await ec2.send(new DescribeImagesCommand({ Filters: [noble] }))).Images!;
    const newest = all.sort((x, y) => String(y.CreationDate).localeCompare(String(x.CreationDate)))[0]!;
    expect(newest).toMatchObject({ ImageId: 'ami-0badbadbadbadbad0', OwnerId: '111111111111' });
    expect(await ids({ Owners: ['amazon'] })).toEqual(['ami-0123456789abcdef0']);
    expect(await ids({ Owners: ['self'] })).toEqual([]);
    expect(await ids({ Owners: ['self', '111111111111'] })).toEqual(['ami-0badbadbadbadbad0']);
    expect(await ids({ ImageIds: [UBUNTU] })).toEqual([UBUNTU]);
    expect(await ids({ ImageIds: [UBUNTU], Owners: ['amazon'] })).toEqual([]);
    await expect(ids({ ImageIds: ['ami-00000000000000bad'] })).rejects.toMatchObject({ name: 'InvalidAMIID.NotFound' });
    expect(await ids({ Filters: [{ Name: 'name', Values: ['ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-2026110?'] }] })).toEqual([UBUNTU]);
    expect(await ids({ Filters: [{ Name: 'architecture', Values: ['arm64'] }] })).toEqual([]);
    expect(await ids({ Filters: [{ Name: 'architecture', Values: ['x86_64'] }, { Name: 'name', Values: ['al2023-*'] }] })).toEqual(['ami-0123456789abcdef0']);
  });

  it('lists instances by id and filters, with tags, addresses and reasons', async () => {
    const ec2 = await client(undefined, ACCESS, { backend });
    const e = endpoint!;
    const tagged = (Name: string) => [{ ResourceType: 'instance' as const, Tags: [{ Key: 'Name', Value: Name }, { Key: 'machine:created-by', Value: 'machine' }] }];
    const a = (await ec2.send(new RunInstancesCommand({ ...base, TagSpecifications: tagged('a') }))).Instances![0]!.InstanceId!;
    const b = (await ec2.send(new RunInstancesCommand({ ...base, SubnetId: e.privateSubnetId, TagSpecifications: tagged('b') }))).Instances![0]!.InstanceId!;
    const c = (await ec2.send(new RunInstancesCommand({ ...base, TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'v', Value: '1' }] }] }))).Instances![0]!.InstanceId!;
    expect(e.instances.get(c)?.tags).toEqual({});
    await until(() => e.live().every((i) => i.state === 'running'));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [c] }));
    await until(() => e.instances.get(c)?.state === 'terminated');

    const ids = async (input: DescribeInstancesCommandInput) =>
      (await ec2.send(new DescribeInstancesCommand(input))).Reservations?.flatMap((r) => r.Instances!.map((i) => i.InstanceId));
    expect(await ids({})).toEqual([a, b, c]);
    expect(await ids({ InstanceIds: [b, a] })).toEqual([a, b]);
    expect(await ids({ Filters: [{ Name: 'instance-id', Values: [c] }] })).toEqual([c]);
    expect(await ids({ Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }] })).toEqual([a, b]);
    expect(await ids({ Filters: [{ Name: 'tag:Name', Values: ['b'] }] })).toEqual([b]);
    expect(await ids({ Filters: [{ Name: 'tag-key', Values: ['machine:created-by'] }] })).toEqual([a, b]);
    expect(await ids({ Filters: [{ Name: 'vpc-id', Values: [e.customVpcId] }] })).toEqual([b]);
    expect(await ids({ Filters: [{ Name: 'subnet-id', Values: [e.subnetId] }, { Name: 'tag:Name', Values: ['*'] }] })).toEqual([a]);

    const [ra] = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [a] }))).Reservations!;
    expect(ra?.Instances?.[0]).toMatchObject({ SubnetId: e.subnetId, VpcId: e.vpcId, PrivateIpAddress: '10.99.0.7', PublicIpAddress: '10.99.0.7', Tags: tagged('a')[0]!.Tags });
    const [rb] = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [b] }))).Reservations!;
    expect(rb?.Instances?.[0]?.PublicIpAddress).toBeUndefined();
    const [rc] = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [c] }))).Reservations!;
    expect(rc?.Instances?.[0]?.StateReason).toEqual({ Code: 'Client.UserInitiatedShutdown', Message: 'Client.UserInitiatedShutdown: User initiated shutdown' });
    expect(e.live().map((i) => i.id)).toEqual([a, b]);
  });

  it('tags and untags instances, groups and key pairs by id', async () => {
    const ec2 = await client();
    const e = endpoint!;
    const inst = (await ec2.send(new RunInstancesCommand(base))).Instances![0]!.InstanceId!;
    const sg = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'g', Description: 'g' }))).GroupId!;
    const key = (await ec2.send(new ImportKeyPairCommand({ KeyName: 'k', PublicKeyMaterial: KEY }))).KeyPairId!;
    await ec2.send(new CreateTagsCommand({ Resources: [inst, sg, key], Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }, { Key: 'c', Value: '' }] }));
    for (const tags of [e.instances.get(inst)!.tags, e.groups.get(sg)!.tags, e.keyPairs.get('k')!.tags]) expect(tags).toEqual({ a: '1', b: '2', c: '' });
    // With a value, only a tag with that value goes.
    await ec2.send(new DeleteTagsCommand({ Resources: [inst], Tags: [{ Key: 'a' }, { Key: 'b', Value: 'other' }] }));
    expect(e.instances.get(inst)!.tags).toEqual({ b: '2', c: '' });
    await ec2.send(new DeleteTagsCommand({ Resources: [sg] }));
    expect(e.groups.get(sg)!.tags).toEqual({});
    // One unknown resource: nothing is tagged.
    await expect(ec2.send(new CreateTagsCommand({ Resources: [key, 'i-00000000000000000'], Tags: [{ Key: 'z', Value: '1' }] }))).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound' });
    expect(e.keyPairs.get('k')!.tags).toEqual({ a: '1', b: '2', c: '' });
    await expect(ec2.send(new CreateTagsCommand({ Resources: ['sg-00000000000000000'], Tags: [{ Key: 'z', Value: '1' }] }))).rejects.toMatchObject({ name: 'InvalidGroup.NotFound' });
    await expect(ec2.send(new CreateTagsCommand({ Resources: ['key-00000000000000000'], Tags: [{ Key: 'z', Value: '1' }] }))).rejects.toMatchObject({ name: 'InvalidKeyPair.NotFound' });
  });

  it('terminateOnLaunch: the instance never runs and says why in stateReason', async () => {
    const ec2 = await client({ terminateOnLaunch: { code: 'Client.VolumeLimitExceeded', message: 'Client.VolumeLimitExceeded: Volume limit exceeded' } });
    const id = (await ec2.send(new RunInstancesCommand(base))).Instances![0]!.InstanceId!;
    const seen = new Set<string>();
    const get = async () => (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
    await until(async () => {
      const i = await get();
      seen.add(i.State!.Name!);
      return i.State?.Name === 'terminated';
    });
    expect([...seen]).toEqual(expect.arrayContaining(['shutting-down', 'terminated']));
    expect(seen.has('running')).toBe(false);
    expect((await get()).StateReason).toEqual({ Code: 'Client.VolumeLimitExceeded', Message: 'Client.VolumeLimitExceeded: Volume limit exceeded' });
    expect(endpoint!.instances.get(id)?.stateReason?.code).toBe('Client.VolumeLimitExceeded');
    expect(endpoint!.live()).toEqual([]);
  });

  it('pause hook: a client that goes away before or after the server acted leaves the change made', async () => {
    const phases: string[] = [];
    let abort = new AbortController();
    const ec2 = await client(undefined, ACCESS, {
      pause: async (action, phase, params) => {
        if (action !== 'ImportKeyPair') return;
        phases.push(`${phase}:${params.get('KeyName')}:${endpoint!.keyPairs.has(params.get('KeyName')!)}`);
        if (phase === (params.get('KeyName') === 'early' ? 'before' : 'after')) {
          abort.abort();
          await new Promise((r) => setTimeout(r, 50));
        }
      },
    });
    await expect(ec2.send(new ImportKeyPairCommand({ KeyName: 'early', PublicKeyMaterial: KEY }), { abortSignal: abort.signal })).rejects.toMatchObject({ name: 'AbortError' });
    await until(() => endpoint!.keyPairs.has('early'));
    abort = new AbortController();
    await expect(ec2.send(new ImportKeyPairCommand({ KeyName: 'late', PublicKeyMaterial: KEY }), { abortSignal: abort.signal })).rejects.toMatchObject({ name: 'AbortError' });
    await until(() => endpoint!.exchanges.length === 2);
    expect(phases).toEqual(['before:early:false', 'after:early:true', 'before:late:false', 'after:late:true']);
    expect([...endpoint!.keyPairs.keys()]).toEqual(['early', 'late']);
    expect(endpoint!.exchanges.map((x) => [x.action, x.status])).toEqual([['ImportKeyPair', 200], ['ImportKeyPair', 200]]);
    // A client that retries finds what it made.
    await expect(ec2.send(new ImportKeyPairCommand({ KeyName: 'late', PublicKeyMaterial: KEY }))).rejects.toMatchObject({ name: 'InvalidKeyPair.Duplicate' });
  });

  it('latencyMs slows every answer', async () => {
    const ec2 = await client(undefined, ACCESS, { latencyMs: 300 });
    const t = Date.now();
    await ec2.send(new DescribeVpcsCommand({}));
    await expect(ec2.send(new DescribeVpcsCommand({ VpcIds: ['vpc-00000000000000000'] }))).rejects.toMatchObject({ name: 'InvalidVpcID.NotFound' });
    expect(Date.now() - t).toBeGreaterThanOrEqual(600);
  });
});
