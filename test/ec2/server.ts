import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { errorResponse, response, type XmlValue } from './xml.js';

// A local EC2 endpoint speaking the Query protocol as @aws-sdk/client-ec2 sends it:
// form-encoded POSTs with Action/Version, XML answers in the EC2 namespace, EC2's error XML
// and codes. Instances move pending -> running -> stopping -> stopped -> shutting-down ->
// terminated over time; a backend makes each running instance a real test host.

export interface InstanceBackend {
  launch(inst: { id: string; name: string; publicKey: string }): Promise<{ publicIp: string; privateIp: string }>;
  stop(id: string): Promise<void>;
  start(id: string): Promise<{ publicIp: string; privateIp: string }>;
  terminate(id: string): Promise<void>;
}

export interface Faults {
  /** The first N calls answer RequestLimitExceeded. */
  throttleFirst?: number;
  /** RunInstances answers InsufficientInstanceCapacity. */
  noCapacity?: boolean;
}

interface Instance {
  id: string;
  imageId: string;
  type: string;
  keyName: string;
  state: 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
  publicIp: string;
  privateIp: string;
  subnetId: string;
  vpcId: string;
  groups: string[];
  tags: Record<string, string>;
  launchTime: string;
}

const STATE_CODE = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 } as const;

class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

// AWS's form: a prefix and 17 hex digits.
const id = (prefix: string) => `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;

/** `Prefix.1`, `Prefix.2`, … (or `Prefix.N.Sub`) from a flat Query parameter map. */
function list(p: URLSearchParams, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; p.has(`${prefix}.${i}`); i++) out.push(p.get(`${prefix}.${i}`)!);
  return out;
}

export class Ec2Endpoint {
  readonly keyPairs = new Map<string, { name: string; publicKey: string; fingerprint: string }>();
  readonly groups = new Map<string, { id: string; name: string; description: string; vpcId: string; rules: Array<{ proto: string; from: number; to: number; cidr?: string; group?: string }> }>();
  readonly instances = new Map<string, Instance>();
  readonly calls: string[] = [];
  /** Every answer, for the fixtures in drivers-test-fixtures/amazonec2. */
  readonly exchanges: Array<{ action: string; status: number; body: string }> = [];
  readonly vpcId = 'vpc-0a1b2c3d4e5f60718';
  readonly subnetId = 'subnet-0a1b2c3d4e5f60718';
  private server?: Server;
  private callCount = 0;

  constructor(
    private readonly opts: { accessKeys: string[]; backend?: InstanceBackend; faults?: Faults; transitionMs?: number },
  ) {}

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const requestId = randomBytes(16).toString('hex');
        const params = new URLSearchParams(body);
        const action = params.get('Action') ?? '';
        this.calls.push(action);
        this.handle(action, params, String(req.headers.authorization ?? ''))
          .then((out) => {
            const xml = response(action, requestId, out);
            this.exchanges.push({ action, status: 200, body: xml });
            res.writeHead(200, { 'Content-Type': 'text/xml;charset=UTF-8' });
            res.end(xml);
          })
          .catch((err: unknown) => {
            const e = err instanceof Ec2Error ? err : new Ec2Error('InternalError', (err as Error).message, 500);
            const xml = errorResponse(e.code, e.message, requestId);
            this.exchanges.push({ action, status: e.status, body: xml });
            res.writeHead(e.status, { 'Content-Type': 'text/xml;charset=UTF-8' });
            res.end(xml);
          });
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private later(fn: () => Promise<void>): void {
    setTimeout(() => void fn().catch(() => undefined), this.opts.transitionMs ?? 200);
  }

  private async handle(action: string, p: URLSearchParams, auth: string): Promise<Record<string, XmlValue>> {
    const key = /Credential=([^/]+)\//.exec(auth)?.[1];
    if (!key || !this.opts.accessKeys.includes(key)) {
      throw new Ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials', 401);
    }
    if (this.callCount++ < (this.opts.faults?.throttleFirst ?? 0)) throw new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
    switch (action) {
      case 'DescribeImages':
        return {
          imagesSet: [
            { imageId: 'ami-0fedcba9876543210', name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261101', imageState: 'available', imageOwnerId: '099720109477', creationDate: '2026-11-01T00:00:00.000Z', architecture: 'x86_64', rootDeviceType: 'ebs', rootDeviceName: '/dev/sda1' },
            { imageId: 'ami-00000000000000001', name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20260101', imageState: 'available', imageOwnerId: '099720109477', creationDate: '2026-01-01T00:00:00.000Z', architecture: 'x86_64', rootDeviceType: 'ebs', rootDeviceName: '/dev/sda1' },
          ],
        };
      case 'DescribeVpcs':
        return { vpcSet: [{ vpcId: this.vpcId, state: 'available', cidrBlock: '172.31.0.0/16', isDefault: true }] };
      case 'DescribeSubnets':
        return { subnetSet: [{ subnetId: this.subnetId, vpcId: this.vpcId, state: 'available', cidrBlock: '172.31.0.0/20', availabilityZone: 'us-east-1a', defaultForAz: true }] };
      case 'ImportKeyPair': {
        const name = p.get('KeyName') ?? '';
        if (this.keyPairs.has(name)) throw new Ec2Error('InvalidKeyPair.Duplicate', `The keypair '${name}' already exists.`);
        const publicKey = Buffer.from(p.get('PublicKeyMaterial') ?? '', 'base64').toString();
        const fingerprint = randomBytes(16).toString('hex').match(/../g)!.join(':');
        this.keyPairs.set(name, { name, publicKey, fingerprint });
        return { keyName: name, keyFingerprint: fingerprint, keyPairId: id('key') };
      }
      case 'DeleteKeyPair':
        this.keyPairs.delete(p.get('KeyName') ?? '');
        return { return: true };
      case 'DescribeSecurityGroups': {
        const names = [...list(p, 'GroupName'), ...this.filterValues(p, 'group-name')];
        const ids = list(p, 'GroupId');
        const found = [...this.groups.values()].filter((g) => (!names.length || names.includes(g.name)) && (!ids.length || ids.includes(g.id)));
        return {
          securityGroupInfo: found.map((g) => ({
            groupId: g.id,
            groupName: g.name,
            groupDescription: g.description,
            vpcId: g.vpcId,
            ownerId: '123456789012',
            ipPermissions: g.rules.map((r) => ({ ipProtocol: r.proto, fromPort: r.from, toPort: r.to, ipRanges: r.cidr ? [{ cidrIp: r.cidr }] : [], groups: r.group ? [{ groupId: r.group }] : [] })),
          })),
        };
      }
      case 'CreateSecurityGroup': {
        const name = p.get('GroupName') ?? '';
        if ([...this.groups.values()].some((g) => g.name === name)) throw new Ec2Error('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${this.vpcId}'`);
        const g = { id: id('sg'), name, description: p.get('GroupDescription') ?? '', vpcId: p.get('VpcId') ?? this.vpcId, rules: [] };
        this.groups.set(g.id, g);
        return { return: true, groupId: g.id };
      }
      case 'AuthorizeSecurityGroupIngress': {
        const g = this.groups.get(p.get('GroupId') ?? '');
        if (!g) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${p.get('GroupId')}' does not exist`);
        for (let i = 1; p.has(`IpPermissions.${i}.IpProtocol`); i++) {
          const base = `IpPermissions.${i}`;
          g.rules.push({
            proto: p.get(`${base}.IpProtocol`)!,
            from: Number(p.get(`${base}.FromPort`) ?? -1),
            to: Number(p.get(`${base}.ToPort`) ?? -1),
            ...(p.get(`${base}.IpRanges.1.CidrIp`) ? { cidr: p.get(`${base}.IpRanges.1.CidrIp`)! } : {}),
            ...(p.get(`${base}.Groups.1.GroupId`) ? { group: p.get(`${base}.Groups.1.GroupId`)! } : {}),
          });
        }
        return { return: true };
      }
      case 'DeleteSecurityGroup': {
        const gid = p.get('GroupId') ?? '';
        if ([...this.instances.values()].some((i) => i.state !== 'terminated' && i.groups.includes(gid))) {
          throw new Ec2Error('DependencyViolation', `resource ${gid} has a dependent object`);
        }
        this.groups.delete(gid);
        return { return: true };
      }
      case 'RunInstances':
        return this.runInstances(p);
      case 'DescribeInstances': {
        const ids = list(p, 'InstanceId');
        for (const i of ids) if (!this.instances.has(i)) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${i}' does not exist`);
        const found = [...this.instances.values()].filter((i) => !ids.length || ids.includes(i.id));
        return { reservationSet: found.map((i) => ({ reservationId: id('r'), ownerId: '123456789012', groupSet: [], instancesSet: [this.instanceXml(i)] })) };
      }
      case 'StartInstances':
      case 'StopInstances':
      case 'RebootInstances':
      case 'TerminateInstances':
        return this.transition(action, list(p, 'InstanceId'));
      case 'CreateTags':
        for (const i of list(p, 'ResourceId')) {
          const inst = this.instances.get(i);
          for (let n = 1; inst && p.has(`Tag.${n}.Key`); n++) inst.tags[p.get(`Tag.${n}.Key`)!] = p.get(`Tag.${n}.Value`) ?? '';
        }
        return { return: true };
      default:
        throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  private filterValues(p: URLSearchParams, name: string): string[] {
    for (let i = 1; p.has(`Filter.${i}.Name`); i++) if (p.get(`Filter.${i}.Name`) === name) return list(p, `Filter.${i}.Value`);
    return [];
  }

  private runInstances(p: URLSearchParams): Record<string, XmlValue> {
    if (this.opts.faults?.noCapacity) {
      throw new Ec2Error('InsufficientInstanceCapacity', `We currently do not have sufficient ${p.get('InstanceType')} capacity in the Availability Zone you requested (us-east-1a).`, 500);
    }
    const keyName = p.get('KeyName') ?? '';
    const key = this.keyPairs.get(keyName);
    if (!key) throw new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${keyName}' does not exist`);
    const tags: Record<string, string> = {};
    for (let n = 1; p.has(`TagSpecification.1.Tag.${n}.Key`); n++) tags[p.get(`TagSpecification.1.Tag.${n}.Key`)!] = p.get(`TagSpecification.1.Tag.${n}.Value`) ?? '';
    const inst: Instance = {
      id: id('i'),
      imageId: p.get('ImageId') ?? '',
      type: p.get('InstanceType') ?? 't3.micro',
      keyName,
      state: 'pending',
      publicIp: '',
      privateIp: '',
      subnetId: p.get('SubnetId') ?? this.subnetId,
      vpcId: this.vpcId,
      groups: list(p, 'SecurityGroupId'),
      tags,
      launchTime: new Date().toISOString(),
    };
    this.instances.set(inst.id, inst);
    const backend = this.opts.backend;
    this.later(async () => {
      const addr = backend ? await backend.launch({ id: inst.id, name: tags['Name'] ?? inst.id, publicKey: key.publicKey }) : { publicIp: '', privateIp: '' };
      inst.publicIp = addr.publicIp;
      inst.privateIp = addr.privateIp;
      if (inst.state === 'pending') inst.state = 'running';
    });
    return { reservationId: id('r'), ownerId: '123456789012', groupSet: [], instancesSet: [this.instanceXml(inst)] };
  }

  private transition(action: string, ids: string[]): Record<string, XmlValue> {
    const out: XmlValue[] = [];
    for (const i of ids) {
      const inst = this.instances.get(i);
      if (!inst) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${i}' does not exist`);
      const previous = inst.state;
      const backend = this.opts.backend;
      if (action === 'StopInstances' && previous === 'running') {
        inst.state = 'stopping';
        this.later(async () => {
          await backend?.stop(inst.id);
          inst.state = 'stopped';
          inst.publicIp = '';
        });
      } else if (action === 'StartInstances' && previous === 'stopped') {
        inst.state = 'pending';
        this.later(async () => {
          const addr = backend ? await backend.start(inst.id) : { publicIp: '', privateIp: '' };
          inst.publicIp = addr.publicIp;
          inst.privateIp = addr.privateIp;
          inst.state = 'running';
        });
      } else if (action === 'TerminateInstances' && previous !== 'terminated') {
        inst.state = 'shutting-down';
        this.later(async () => {
          await backend?.terminate(inst.id);
          inst.state = 'terminated';
          inst.publicIp = '';
        });
      }
      if (action === 'RebootInstances') continue;
      out.push({ instanceId: i, currentState: { code: STATE_CODE[inst.state], name: inst.state }, previousState: { code: STATE_CODE[previous], name: previous } });
    }
    if (action === 'RebootInstances') return { return: true };
    const key = action === 'StartInstances' ? 'instancesSet' : action === 'StopInstances' ? 'instancesSet' : 'instancesSet';
    return { [key]: out };
  }

  private instanceXml(i: Instance): Record<string, XmlValue> {
    return {
      instanceId: i.id,
      imageId: i.imageId,
      instanceState: { code: STATE_CODE[i.state], name: i.state },
      privateDnsName: i.privateIp ? `ip-${i.privateIp.replace(/\./g, '-')}.ec2.internal` : '',
      dnsName: '',
      keyName: i.keyName,
      instanceType: i.type,
      launchTime: i.launchTime,
      placement: { availabilityZone: 'us-east-1a', tenancy: 'default' },
      subnetId: i.subnetId,
      vpcId: i.vpcId,
      privateIpAddress: i.privateIp || undefined,
      ipAddress: i.publicIp || undefined,
      groupSet: i.groups.map((g) => ({ groupId: g, groupName: this.groups.get(g)?.name ?? '' })),
      tagSet: Object.entries(i.tags).map(([key, value]) => ({ key, value })),
      rootDeviceType: 'ebs',
      rootDeviceName: '/dev/sda1',
      architecture: 'x86_64',
    };
  }
}
