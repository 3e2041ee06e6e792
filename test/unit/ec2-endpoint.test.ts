import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  ImportKeyPairCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ec2Endpoint, type Faults } from '../ec2/server.js';

// The local EC2 endpoint the amazonec2 driver's tests will use, checked through the real
// SDK: if the SDK cannot read an answer, the driver's tests would only test our mistakes.
let endpoint: Ec2Endpoint | undefined;
afterEach(async () => endpoint?.close());

async function client(faults?: Faults, accessKeyId = 'AKIDMACHINETEST') {
  endpoint = new Ec2Endpoint({ accessKeys: ['AKIDMACHINETEST'], transitionMs: 50, ...(faults ? { faults } : {}) });
  const url = await endpoint.listen();
  return new EC2Client({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey: 'secret' } });
}

const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setTimeout(r, 20));
};

const fixtures = join(import.meta.dirname, '..', '..', 'drivers-test-fixtures', 'amazonec2');

/** Ids, request ids and times vary from run to run; the shape is what the fixtures keep. */
function normalise(xml: string): string {
  return xml
    .replace(/<requestId>[0-9a-f]+<\/requestId>/g, '<requestId>REQUEST-ID</requestId>')
    .replace(/<RequestID>[0-9a-f]+<\/RequestID>/g, '<RequestID>REQUEST-ID</RequestID>')
    .replace(/\b(i|r|sg|key)-[0-9a-f]{17}\b/g, '$1-ID')
    .replace(/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z)/g, 'TIMESTAMP')
    .replace(/<keyFingerprint>[0-9a-f:]+<\/keyFingerprint>/g, '<keyFingerprint>FINGERPRINT</keyFingerprint>');
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
    expect(images.Images?.map((i) => i.ImageId)).toContain('ami-0fedcba9876543210');
    const key = await ec2.send(new ImportKeyPairCommand({ KeyName: 'm1', PublicKeyMaterial: Buffer.from('ssh-ed25519 AAAA test') }));
    expect(key.KeyName).toBe('m1');
    expect(endpoint!.keyPairs.get('m1')?.publicKey).toBe('ssh-ed25519 AAAA test');
    const sg = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'docker-machine', Description: 'machine', VpcId: endpoint!.vpcId }));
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg.GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
    expect(endpoint!.groups.get(sg.GroupId!)?.rules).toEqual([{ proto: 'tcp', from: 22, to: 22, cidr: '0.0.0.0/0' }]);

    const run = await ec2.send(new RunInstancesCommand({
      ImageId: 'ami-0fedcba9876543210', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, KeyName: 'm1', SecurityGroupIds: [sg.GroupId!],
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

    const stop = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    expect(stop.StoppingInstances?.[0]?.CurrentState?.Name).toBe('stopping');
    await until(async () => (await state()).State?.Name === 'stopped');
    const term = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(term.TerminatingInstances?.[0]?.CurrentState?.Name).toBe('shutting-down');
    await until(async () => (await state()).State?.Name === 'terminated');
    expect((await state()).State?.Name).toBe('terminated');
    checkFixtures(endpoint!.exchanges);
  });

  it("speaks EC2's errors: unknown instance, capacity, credentials; the SDK retries throttling", async () => {
    let ec2 = await client();
    await expect(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0000000000000dead'] }))).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound' });
    await endpoint!.close();

    ec2 = await client({ noCapacity: true });
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'k', PublicKeyMaterial: Buffer.from('ssh-ed25519 AAAA') }));
    await expect(ec2.send(new RunInstancesCommand({ ImageId: 'ami-1', InstanceType: 'p5.48xlarge', MinCount: 1, MaxCount: 1, KeyName: 'k' }))).rejects.toMatchObject({
      name: 'InsufficientInstanceCapacity',
    });
    await endpoint!.close();

    ec2 = await client({ throttleFirst: 2 });
    const images = await ec2.send(new DescribeImagesCommand({}));
    expect(images.Images?.length).toBe(2);
    expect(endpoint!.calls).toEqual(['DescribeImages', 'DescribeImages', 'DescribeImages']);
    await endpoint!.close();

    ec2 = await client(undefined, 'AKIDWRONG');
    await expect(ec2.send(new DescribeImagesCommand({}))).rejects.toMatchObject({ name: 'AuthFailure' });
  });
});
