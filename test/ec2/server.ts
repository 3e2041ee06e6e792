import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { errorResponse, response, type XmlValue } from './xml.js';

// A local EC2 endpoint speaking the Query protocol as @aws-sdk/client-ec2 sends it:
// form-encoded POSTs with Action/Version, XML answers in the EC2 namespace, EC2's error XML
// and codes. Instances move pending -> running -> stopping -> stopped -> shutting-down ->
// terminated over time; a backend makes each running instance a real test host.
//
// It is strict where EC2 is, so a client that relies on leniency fails here and not only on
// AWS: unknown ids and filters are errors, group names are per VPC, a rule that exists is
// refused, a public address comes only from the subnet or the interface, a client token
// makes RunInstances idempotent. Element and error names follow the EC2 API reference.

export interface InstanceBackend {
  /** Where the instance is really reachable; the endpoint decides which address it shows. */
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
  /** Launched instances go pending -> shutting-down -> terminated with this stateReason. */
  terminateOnLaunch?: { code: string; message: string };
}

/**
 * Awaited before a request is handled (nothing made yet) and after (the change is made) but
 * before the answer is written: a test crashes its client in either window.
 */
export type PauseHook = (action: string, phase: 'before' | 'after', params: URLSearchParams) => Promise<void> | void;

export interface Ec2EndpointOptions {
  accessKeys: string[];
  backend?: InstanceBackend;
  faults?: Faults;
  /** Time of each state transition (default 200 ms). */
  transitionMs?: number;
  /** Every answer waits this long before it is written (slow answers). */
  latencyMs?: number;
  pause?: PauseHook;
}

export type Tags = Record<string, string>;

export interface Vpc {
  id: string;
  cidr: string;
  isDefault: boolean;
  tags: Tags;
}

export interface Subnet {
  id: string;
  vpcId: string;
  cidr: string;
  az: string;
  defaultForAz: boolean;
  mapPublicIpOnLaunch: boolean;
  tags: Tags;
}

/** One stored ingress rule per peer, as EC2 keeps them (and answers a duplicate). */
export interface Rule {
  proto: string;
  from: number;
  to: number;
  cidr?: string;
  group?: string;
}

export interface SecurityGroup {
  id: string;
  name: string;
  description: string;
  vpcId: string;
  rules: Rule[];
  tags: Tags;
}

export interface KeyPair {
  name: string;
  publicKey: string;
  fingerprint: string;
  keyPairId: string;
  tags: Tags;
}

export interface Instance {
  id: string;
  reservationId: string;
  imageId: string;
  type: string;
  keyName: string;
  state: 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
  /** The address shown as ipAddress: empty unless associatePublicIp. */
  publicIp: string;
  privateIp: string;
  subnetId: string;
  vpcId: string;
  az: string;
  groups: string[];
  /** What RunInstances decided from AssociatePublicIpAddress and the subnet. */
  associatePublicIp: boolean;
  clientToken: string;
  tags: Tags;
  launchTime: string;
  stateReason?: { code: string; message: string };
}

const STATE_CODE = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 } as const;
const ACCOUNT = '123456789012';
const USER_SHUTDOWN = { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };

interface Image {
  imageId: string;
  name: string;
  owner: string;
  alias?: string;
  creationDate: string;
}

// Canonical's two Noble images; a lookalike of someone else's with the newest date, so a
// client that forgets Owners picks it; and an Amazon Linux image for the 'amazon' alias.
const IMAGES: Image[] = [
  { imageId: 'ami-0fedcba9876543210', name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261101', owner: '099720109477', creationDate: '2026-11-01T00:00:00.000Z' },
  { imageId: 'ami-00000000000000001', name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20260101', owner: '099720109477', creationDate: '2026-01-01T00:00:00.000Z' },
  { imageId: 'ami-0badbadbadbadbad0', name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261115', owner: '111111111111', creationDate: '2026-11-15T00:00:00.000Z' },
  { imageId: 'ami-0123456789abcdef0', name: 'al2023-ami-2023.6.20261101.0-kernel-6.1-x86_64', owner: '137112412989', alias: 'amazon', creationDate: '2026-11-01T00:00:00.000Z' },
];

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

/** `Prefix.1`, `Prefix.2`, … (or `Prefix.N.Suffix`) from a flat Query parameter map. */
function list(p: URLSearchParams, prefix: string, suffix = ''): string[] {
  const out: string[] = [];
  const at = (i: number) => `${prefix}.${i}${suffix ? `.${suffix}` : ''}`;
  for (let i = 1; p.has(at(i)); i++) out.push(p.get(at(i))!);
  return out;
}

/** Tag.N.Key/Value under `prefix` (TagSpecification.N or the top level). */
function tagList(p: URLSearchParams, prefix = ''): Tags {
  const tags: Tags = {};
  for (let n = 1; p.has(`${prefix}Tag.${n}.Key`); n++) tags[p.get(`${prefix}Tag.${n}.Key`)!] = p.get(`${prefix}Tag.${n}.Value`) ?? '';
  return tags;
}

/**
 * Tags from TagSpecification.N of `type`. Other types are EC2's error, except where the
 * action makes several kinds of resource (RunInstances tags volumes too): there they are ignored.
 */
function tagSpecs(p: URLSearchParams, type: string, othersAllowed = false): Tags {
  let tags: Tags = {};
  for (let s = 1; p.has(`TagSpecification.${s}.ResourceType`); s++) {
    const t = p.get(`TagSpecification.${s}.ResourceType`)!;
    if (t === type) tags = { ...tags, ...tagList(p, `TagSpecification.${s}.`) };
    else if (!othersAllowed) throw new Ec2Error('InvalidParameterValue', `'${t}' is not a valid taggable resource type for this operation.`);
  }
  return tags;
}

/** EC2's filter wildcards: `*` any run, `?` one character, `\` escapes them. */
function wildcard(pattern: string, value: string): boolean {
  const re = pattern.replace(/\\[*?\\]|[*?]|[.+^${}()|[\]\\]/g, (t) => (t === '*' ? '.*' : t === '?' ? '.' : t.length === 2 ? `\\${t[1]}` : `\\${t}`));
  return new RegExp(`^${re}$`, 's').test(value);
}

type Field<T> = (x: T) => string | number | boolean | undefined | Array<string | undefined>;

/**
 * Filter.N.Name/Value.M as EC2 applies them: filters AND, values OR, wildcards, tag:KEY,
 * tag-key and tag-value; a name the action does not know is InvalidParameterValue.
 */
function filtered<T>(p: URLSearchParams, items: T[], fields: Record<string, Field<T>>, tagsOf: (x: T) => Tags = () => ({})): T[] {
  const filters: Array<{ name: string; values: string[] }> = [];
  for (let i = 1; p.has(`Filter.${i}.Name`); i++) filters.push({ name: p.get(`Filter.${i}.Name`)!, values: list(p, `Filter.${i}.Value`) });
  for (const f of filters) {
    if (!fields[f.name] && !f.name.startsWith('tag:') && f.name !== 'tag-key' && f.name !== 'tag-value') throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
  }
  const have = (x: T, name: string): string[] => {
    if (name.startsWith('tag:')) return name.slice(4) in tagsOf(x) ? [tagsOf(x)[name.slice(4)]!] : [];
    if (name === 'tag-key') return Object.keys(tagsOf(x));
    if (name === 'tag-value') return Object.values(tagsOf(x));
    return [fields[name]!(x)].flat().filter((v) => v !== undefined && v !== '').map(String);
  };
  return items.filter((x) => filters.every((f) => f.values.some((pat) => have(x, f.name).some((v) => wildcard(pat, v)))));
}

/** Items named by Prefix.N (all when none), each unknown one an error as EC2 words it. */
function byIds<T>(p: URLSearchParams, prefix: string, all: T[], key: (x: T) => string, missing: (id: string) => Ec2Error): T[] {
  const ids = list(p, prefix);
  for (const i of ids) if (!all.some((x) => key(x) === i)) throw missing(i);
  return ids.length ? all.filter((x) => ids.includes(key(x))) : all;
}

const tagSet = (tags: Tags) => Object.entries(tags).map(([key, value]) => ({ key, value }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Ec2Endpoint {
  readonly keyPairs = new Map<string, KeyPair>();
  readonly groups = new Map<string, SecurityGroup>();
  readonly instances = new Map<string, Instance>();
  readonly calls: string[] = [];
  /** Every answer, for the fixtures in drivers-test-fixtures/amazonec2. */
  readonly exchanges: Array<{ action: string; status: number; body: string }> = [];
  /** The default VPC, its default subnets in us-east-1a and us-east-1b (public on launch). */
  readonly vpcId = 'vpc-0a1b2c3d4e5f60718';
  readonly subnetId = 'subnet-0a1b2c3d4e5f60718';
  readonly subnetIdB = 'subnet-0b1c2d3e4f5a60718';
  /** A custom VPC whose subnet gives no public address unless asked, as custom VPCs do. */
  readonly customVpcId = 'vpc-0c1d2e3f4a5b60718';
  readonly privateSubnetId = 'subnet-0c1d2e3f4a5b60718';
  readonly vpcs = new Map<string, Vpc>([
    [this.vpcId, { id: this.vpcId, cidr: '172.31.0.0/16', isDefault: true, tags: {} }],
    [this.customVpcId, { id: this.customVpcId, cidr: '10.0.0.0/16', isDefault: false, tags: {} }],
  ]);
  readonly subnets = new Map<string, Subnet>([
    [this.subnetId, { id: this.subnetId, vpcId: this.vpcId, cidr: '172.31.0.0/20', az: 'us-east-1a', defaultForAz: true, mapPublicIpOnLaunch: true, tags: {} }],
    [this.subnetIdB, { id: this.subnetIdB, vpcId: this.vpcId, cidr: '172.31.16.0/20', az: 'us-east-1b', defaultForAz: true, mapPublicIpOnLaunch: true, tags: {} }],
    [this.privateSubnetId, { id: this.privateSubnetId, vpcId: this.customVpcId, cidr: '10.0.1.0/24', az: 'us-east-1a', defaultForAz: false, mapPublicIpOnLaunch: false, tags: {} }],
  ]);
  private server?: Server;
  private callCount = 0;
  /** RunInstances parameters per client token: a reuse with others is IdempotentParameterMismatch. */
  private readonly tokens = new Map<string, string>();
  /** Each instance's backend work in order, so a terminate never overtakes its launch. */
  private readonly work = new Map<string, Promise<void>>();

  constructor(private readonly opts: Ec2EndpointOptions) {}

  /** Instances not terminated. */
  live(): Instance[] {
    return [...this.instances.values()].filter((i) => i.state !== 'terminated');
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => void this.serve(body, String(req.headers.authorization ?? ''), req.socket, res));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      if (!this.server) return r();
      this.server.close(() => r());
      // A request a test left paused must not keep close() waiting.
      this.server.closeAllConnections();
    });
  }

  private async serve(body: string, auth: string, socket: Socket, res: ServerResponse): Promise<void> {
    const requestId = randomBytes(16).toString('hex');
    const params = new URLSearchParams(body);
    const action = params.get('Action') ?? '';
    this.calls.push(action);
    const fail = (err: unknown) => {
      const e = err instanceof Ec2Error ? err : new Ec2Error('InternalError', (err as Error).message, 500);
      return { status: e.status, xml: errorResponse(e.code, e.message, requestId) };
    };
    let answer: { status: number; xml: string };
    try {
      await this.opts.pause?.(action, 'before', params);
      answer = await this.handle(action, params, auth).then((out) => ({ status: 200, xml: response(action, requestId, out) }), fail);
      await this.opts.pause?.(action, 'after', params);
    } catch (err) {
      answer = fail(err);
    }
    if (this.opts.latencyMs) await sleep(this.opts.latencyMs);
    this.exchanges.push({ action, status: answer.status, body: answer.xml });
    // A client that went away meanwhile gets nothing; what was made stays made, as on AWS.
    if (socket.destroyed || res.destroyed) return;
    res.on('error', () => undefined);
    res.writeHead(answer.status, { 'Content-Type': 'text/xml;charset=UTF-8' });
    res.end(answer.xml);
  }

  /** Backend work for one instance, after the transition delay and after its earlier work. */
  private later(inst: Instance, fn: () => Promise<void>): void {
    const next = (this.work.get(inst.id) ?? Promise.resolve())
      .then(() => sleep(this.opts.transitionMs ?? 200))
      .then(fn)
      .catch(() => undefined);
    this.work.set(inst.id, next);
  }

  private async handle(action: string, p: URLSearchParams, auth: string): Promise<Record<string, XmlValue>> {
    const key = /Credential=([^/]+)\//.exec(auth)?.[1];
    if (!key || !this.opts.accessKeys.includes(key)) {
      throw new Ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials', 401);
    }
    if (this.callCount++ < (this.opts.faults?.throttleFirst ?? 0)) throw new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
    switch (action) {
      case 'DescribeImages':
        return { imagesSet: this.describeImages(p).map((i) => this.imageXml(i)) };
      case 'DescribeVpcs': {
        const vpcs = byIds(p, 'VpcId', [...this.vpcs.values()], (v) => v.id, (v) => new Ec2Error('InvalidVpcID.NotFound', `The vpc ID '${v}' does not exist`));
        const found = filtered(p, vpcs, { 'vpc-id': (v) => v.id, isDefault: (v) => v.isDefault, 'is-default': (v) => v.isDefault, cidr: (v) => v.cidr, 'cidr-block': (v) => v.cidr, state: () => 'available', 'owner-id': () => ACCOUNT }, (v) => v.tags);
        return { vpcSet: found.map((v) => ({ vpcId: v.id, ownerId: ACCOUNT, state: 'available', cidrBlock: v.cidr, isDefault: v.isDefault, tagSet: tagSet(v.tags) })) };
      }
      case 'DescribeSubnets': {
        const subnets = byIds(p, 'SubnetId', [...this.subnets.values()], (s) => s.id, (s) => this.noSubnet(s));
        const found = filtered(
          p,
          subnets,
          {
            'subnet-id': (s) => s.id,
            'vpc-id': (s) => s.vpcId,
            'availability-zone': (s) => s.az,
            availabilityZone: (s) => s.az,
            'default-for-az': (s) => s.defaultForAz,
            defaultForAz: (s) => s.defaultForAz,
            'map-public-ip-on-launch': (s) => s.mapPublicIpOnLaunch,
            'cidr-block': (s) => s.cidr,
            cidrBlock: (s) => s.cidr,
            state: () => 'available',
          },
          (s) => s.tags,
        );
        return {
          subnetSet: found.map((s) => ({
            subnetId: s.id,
            vpcId: s.vpcId,
            ownerId: ACCOUNT,
            state: 'available',
            cidrBlock: s.cidr,
            availabilityZone: s.az,
            defaultForAz: s.defaultForAz,
            mapPublicIpOnLaunch: s.mapPublicIpOnLaunch,
            tagSet: tagSet(s.tags),
          })),
        };
      }
      case 'ImportKeyPair':
        return this.importKeyPair(p);
      case 'DescribeKeyPairs': {
        let keys = byIds(p, 'KeyName', [...this.keyPairs.values()], (k) => k.name, (n) => new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${n}' does not exist`));
        keys = byIds(p, 'KeyPairId', keys, (k) => k.keyPairId, (n) => new Ec2Error('InvalidKeyPair.NotFound', `The key pair ID '${n}' does not exist`));
        const found = filtered(p, keys, { 'key-name': (k) => k.name, 'key-pair-id': (k) => k.keyPairId, fingerprint: (k) => k.fingerprint }, (k) => k.tags);
        return { keySet: found.map((k) => ({ keyPairId: k.keyPairId, keyName: k.name, keyFingerprint: k.fingerprint, tagSet: tagSet(k.tags) })) };
      }
      case 'DeleteKeyPair': {
        // EC2 answers success for a key pair that is not there: deleting is idempotent.
        const kp = p.has('KeyPairId') ? [...this.keyPairs.values()].find((k) => k.keyPairId === p.get('KeyPairId')) : this.keyPairs.get(p.get('KeyName') ?? '');
        if (kp) this.keyPairs.delete(kp.name);
        return { return: true, keyPairId: kp?.keyPairId };
      }
      case 'DescribeSecurityGroups': {
        let groups = byIds(p, 'GroupId', [...this.groups.values()], (g) => g.id, (g) => this.noGroup(g));
        // GroupName.N names default-VPC groups only; others are found with the group-name filter.
        const names = list(p, 'GroupName');
        for (const n of names) if (!this.groupNamed(n)) throw this.noGroupName(n);
        if (names.length) groups = groups.filter((g) => g.vpcId === this.vpcId && names.includes(g.name));
        const found = filtered(p, groups, { 'group-name': (g) => g.name, 'group-id': (g) => g.id, 'vpc-id': (g) => g.vpcId, description: (g) => g.description, 'owner-id': () => ACCOUNT }, (g) => g.tags);
        return { securityGroupInfo: found.map((g) => this.groupXml(g)) };
      }
      case 'CreateSecurityGroup': {
        const name = p.get('GroupName') ?? '';
        const vpcId = p.get('VpcId') ?? this.vpcId;
        if (!this.vpcs.has(vpcId)) throw new Ec2Error('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
        // Names are unique per VPC: the same name in another VPC is another group.
        if ([...this.groups.values()].some((g) => g.name === name && g.vpcId === vpcId)) {
          throw new Ec2Error('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpcId}'`);
        }
        const g: SecurityGroup = { id: id('sg'), name, description: p.get('GroupDescription') ?? '', vpcId, rules: [], tags: tagSpecs(p, 'security-group') };
        this.groups.set(g.id, g);
        return { return: true, groupId: g.id, tagSet: Object.keys(g.tags).length ? tagSet(g.tags) : undefined };
      }
      case 'AuthorizeSecurityGroupIngress':
        return this.authorize(p);
      case 'DeleteSecurityGroup': {
        const g = this.groupFrom(p);
        const usedBy = [...this.instances.values()].some((i) => i.state !== 'terminated' && i.groups.includes(g.id));
        const referenced = [...this.groups.values()].some((o) => o.id !== g.id && o.rules.some((r) => r.group === g.id));
        if (usedBy || referenced) throw new Ec2Error('DependencyViolation', `resource ${g.id} has a dependent object`);
        this.groups.delete(g.id);
        return { return: true, groupId: g.id };
      }
      case 'RunInstances':
        return this.runInstances(p);
      case 'DescribeInstances':
        return { reservationSet: this.reservations(this.describeInstances(p)) };
      case 'StartInstances':
      case 'StopInstances':
      case 'RebootInstances':
      case 'TerminateInstances':
        return this.transition(action, list(p, 'InstanceId'));
      case 'CreateTags':
      case 'DeleteTags': {
        const ids = list(p, 'ResourceId');
        const targets = ids.map((r) => this.tagsOf(r)); // all exist, or nothing changes
        const tags = tagList(p);
        for (const t of targets) {
          if (action === 'CreateTags') Object.assign(t, tags);
          else if (!Object.keys(tags).length) for (const k of Object.keys(t)) delete t[k];
          else for (let n = 1; p.has(`Tag.${n}.Key`); n++) {
            // DeleteTags with a value deletes the tag only when it has that value.
            const k = p.get(`Tag.${n}.Key`)!;
            if (!p.has(`Tag.${n}.Value`) || t[k] === p.get(`Tag.${n}.Value`)) delete t[k];
          }
        }
        return { return: true };
      }
      default:
        throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  private noSubnet = (s: string) => new Ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${s}' does not exist`);
  private noGroup = (g: string) => new Ec2Error('InvalidGroup.NotFound', `The security group '${g}' does not exist`);
  private noGroupName = (n: string) => new Ec2Error('InvalidGroup.NotFound', `The security group '${n}' does not exist in default VPC '${this.vpcId}'`);
  private noImage = (i: string) => new Ec2Error('InvalidAMIID.NotFound', `The image id '[${i}]' does not exist`);
  private noInstance = (i: string) => new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${i}' does not exist`);

  private groupNamed(name: string): SecurityGroup | undefined {
    return [...this.groups.values()].find((g) => g.name === name && g.vpcId === this.vpcId);
  }

  /** GroupId, or GroupName in the default VPC, as the group actions take them. */
  private groupFrom(p: URLSearchParams): SecurityGroup {
    if (p.has('GroupId')) {
      const g = this.groups.get(p.get('GroupId')!);
      if (!g) throw this.noGroup(p.get('GroupId')!);
      return g;
    }
    const g = this.groupNamed(p.get('GroupName') ?? '');
    if (!g) throw this.noGroupName(p.get('GroupName') ?? '');
    return g;
  }

  /** The tags of an instance, group, key pair, VPC or subnet, by its id's prefix. */
  private tagsOf(rid: string): Tags {
    const prefix = rid.slice(0, rid.indexOf('-'));
    const lookups: Record<string, () => { tags: Tags } | Ec2Error> = {
      i: () => this.instances.get(rid) ?? this.noInstance(rid),
      sg: () => this.groups.get(rid) ?? this.noGroup(rid),
      key: () => [...this.keyPairs.values()].find((k) => k.keyPairId === rid) ?? new Ec2Error('InvalidKeyPair.NotFound', `The key pair ID '${rid}' does not exist`),
      vpc: () => this.vpcs.get(rid) ?? new Ec2Error('InvalidVpcID.NotFound', `The vpc ID '${rid}' does not exist`),
      subnet: () => this.subnets.get(rid) ?? this.noSubnet(rid),
    };
    const found = lookups[prefix]?.() ?? new Ec2Error('InvalidID', `The ID '${rid}' is not valid`);
    if (found instanceof Ec2Error) throw found;
    return found.tags;
  }

  private describeImages(p: URLSearchParams): Image[] {
    // Owner.N: an account id, 'self', or an alias such as 'amazon'; none means every image
    // this account may launch, which includes everyone's public images.
    const owners = list(p, 'Owner');
    const named = byIds(p, 'ImageId', IMAGES, (i) => i.imageId, this.noImage);
    const owned = named.filter((i) => !owners.length || owners.some((o) => o === i.owner || o === i.alias || (o === 'self' && i.owner === ACCOUNT)));
    return filtered(p, owned, {
      name: (i) => i.name,
      'image-id': (i) => i.imageId,
      'owner-id': (i) => i.owner,
      'owner-alias': (i) => i.alias,
      state: () => 'available',
      architecture: () => 'x86_64',
      'root-device-type': () => 'ebs',
      'is-public': () => true,
    });
  }

  private imageXml(i: Image): Record<string, XmlValue> {
    return {
      imageId: i.imageId,
      name: i.name,
      imageState: 'available',
      imageOwnerId: i.owner,
      imageOwnerAlias: i.alias,
      creationDate: i.creationDate,
      architecture: 'x86_64',
      rootDeviceType: 'ebs',
      rootDeviceName: i.alias ? '/dev/xvda' : '/dev/sda1',
    };
  }

  private importKeyPair(p: URLSearchParams): Record<string, XmlValue> {
    const name = p.get('KeyName') ?? '';
    if (this.keyPairs.has(name)) throw new Ec2Error('InvalidKeyPair.Duplicate', `The keypair '${name}' already exists.`);
    const publicKey = Buffer.from(p.get('PublicKeyMaterial') ?? '', 'base64').toString();
    const blob = /^(?:ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)) ([A-Za-z0-9+/]+=*)/.exec(publicKey)?.[1];
    if (!blob) throw new Ec2Error('InvalidKeyPair.Format', 'Key is not in valid OpenSSH public key format');
    const tags = tagSpecs(p, 'key-pair');
    // Stable per key, in the colon-hex form EC2 shows for imported keys.
    const fingerprint = createHash('md5').update(Buffer.from(blob, 'base64')).digest('hex').match(/../g)!.join(':');
    const kp: KeyPair = { name, publicKey, fingerprint, keyPairId: id('key'), tags };
    this.keyPairs.set(name, kp);
    return { keyName: name, keyFingerprint: fingerprint, keyPairId: kp.keyPairId, tagSet: Object.keys(tags).length ? tagSet(tags) : undefined };
  }

  private authorize(p: URLSearchParams): Record<string, XmlValue> {
    const g = this.groupFrom(p);
    const adds: Rule[] = [];
    const same = (a: Rule, b: Rule) => a.proto === b.proto && a.from === b.from && a.to === b.to && a.cidr === b.cidr && a.group === b.group;
    for (let i = 1; p.has(`IpPermissions.${i}.IpProtocol`); i++) {
      const base = `IpPermissions.${i}`;
      const proto = p.get(`${base}.IpProtocol`)!.toLowerCase();
      const from = Number(p.get(`${base}.FromPort`) ?? -1);
      const to = Number(p.get(`${base}.ToPort`) ?? -1);
      const peers: Array<{ cidr: string } | { group: string }> = [
        ...list(p, `${base}.IpRanges`, 'CidrIp').map((cidr) => ({ cidr })),
        ...list(p, `${base}.Groups`, 'GroupId').map((group) => ({ group })),
      ];
      for (const peer of peers) {
        if ('group' in peer && !this.groups.has(peer.group)) throw this.noGroup(peer.group);
        const rule: Rule = { proto, from, to, ...peer };
        // EC2 refuses a rule that exists, also one repeated in the request, and then adds none.
        if ([...g.rules, ...adds].some((r) => same(r, rule))) {
          const who = 'cidr' in peer ? peer.cidr : peer.group;
          throw new Ec2Error('InvalidPermission.Duplicate', `the specified rule "peer: ${who}, ${proto.toUpperCase()}, from port: ${from}, to port: ${to}, ALLOW" already exists`);
        }
        adds.push(rule);
      }
    }
    g.rules.push(...adds);
    return { return: true };
  }

  private groupXml(g: SecurityGroup): Record<string, XmlValue> {
    // EC2 answers one permission per protocol and port range, with all its peers.
    const perms = new Map<string, { ipProtocol: string; fromPort?: number; toPort?: number; groups: XmlValue[]; ipRanges: XmlValue[] }>();
    for (const r of g.rules) {
      const k = `${r.proto}/${r.from}/${r.to}`;
      if (!perms.has(k)) perms.set(k, { ipProtocol: r.proto, ...(r.proto === '-1' ? {} : { fromPort: r.from, toPort: r.to }), groups: [], ipRanges: [] });
      if (r.cidr) perms.get(k)!.ipRanges.push({ cidrIp: r.cidr });
      if (r.group) perms.get(k)!.groups.push({ userId: ACCOUNT, groupId: r.group });
    }
    return {
      ownerId: ACCOUNT,
      groupId: g.id,
      groupName: g.name,
      groupDescription: g.description,
      vpcId: g.vpcId,
      ipPermissions: [...perms.values()],
      // A new VPC group lets everything out, as on EC2.
      ipPermissionsEgress: [{ ipProtocol: '-1', groups: [], ipRanges: [{ cidrIp: '0.0.0.0/0' }] }],
      tagSet: tagSet(g.tags),
    };
  }

  private runInstances(p: URLSearchParams): Record<string, XmlValue> {
    // A repeated client token answers the first launch and makes nothing (EC2 idempotency).
    const token = p.get('ClientToken') ?? '';
    const request = [...p].filter(([k]) => k !== 'Action' && k !== 'Version').sort().join('&');
    const earlier = [...this.instances.values()].filter((i) => token && i.clientToken === token);
    if (earlier.length) {
      if (this.tokens.get(token) !== request) throw new Ec2Error('IdempotentParameterMismatch', `Arguments on this idempotent request are inconsistent with arguments used in previous request(s).`);
      return this.reservations(earlier)[0] as Record<string, XmlValue>;
    }

    const nic = [...p.keys()].some((k) => k.startsWith('NetworkInterface.'));
    const topGroups = list(p, 'SecurityGroupId');
    const topNames = list(p, 'SecurityGroup');
    if (nic && (topGroups.length || topNames.length)) {
      throw new Ec2Error('InvalidParameterCombination', 'Network interfaces and an instance-level security groups may not be specified on the same request');
    }
    if (nic && p.has('SubnetId')) throw new Ec2Error('InvalidParameterCombination', 'Network interfaces and an instance-level subnet ID may not be specified on the same request');
    const subnetId = p.get(nic ? 'NetworkInterface.1.SubnetId' : 'SubnetId');
    // No subnet: the default VPC's default subnet of the zone asked for (us-east-1a).
    const az = p.get('Placement.AvailabilityZone') ?? 'us-east-1a';
    const subnet = subnetId ? this.subnets.get(subnetId) : [...this.subnets.values()].find((s) => s.vpcId === this.vpcId && s.defaultForAz && s.az === az);
    if (!subnet) throw subnetId ? this.noSubnet(subnetId) : new Ec2Error('InvalidParameterValue', `Invalid availability zone: [${az}]`);

    const imageId = p.get('ImageId') ?? '';
    if (!IMAGES.some((i) => i.imageId === imageId)) throw this.noImage(imageId);
    const keyName = p.get('KeyName') ?? '';
    const key = this.keyPairs.get(keyName);
    if (keyName && !key) throw new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${keyName}' does not exist`);

    const groups = nic ? list(p, 'NetworkInterface.1.SecurityGroupId') : [...topGroups];
    for (const gid of groups) {
      const g = this.groups.get(gid);
      if (!g) throw this.noGroup(gid);
      if (g.vpcId !== subnet.vpcId) throw new Ec2Error('InvalidParameter', `Security group ${gid} and subnet ${subnet.id} belong to different networks.`);
    }
    if (topNames.length && subnet.vpcId !== this.vpcId) throw new Ec2Error('InvalidParameterCombination', 'The parameter groupName cannot be used with the parameter subnet');
    for (const n of topNames) groups.push((this.groupNamed(n) ?? (() => { throw this.noGroupName(n); })()).id);

    // A public address only when the interface asks for one, or it does not say and the
    // subnet maps one on launch.
    const asked = nic ? p.get('NetworkInterface.1.AssociatePublicIpAddress') : null;
    const associatePublicIp = asked === null ? subnet.mapPublicIpOnLaunch : asked === 'true';

    if (this.opts.faults?.noCapacity) {
      throw new Ec2Error('InsufficientInstanceCapacity', `We currently do not have sufficient ${p.get('InstanceType')} capacity in the Availability Zone you requested (${subnet.az}).`, 500);
    }
    const tags = tagSpecs(p, 'instance', true);
    const reservationId = id('r');
    const made: Instance[] = [];
    for (let n = 0; n < Math.max(1, Number(p.get('MaxCount') ?? 1)); n++) {
      const inst: Instance = {
        id: id('i'),
        reservationId,
        imageId,
        type: p.get('InstanceType') ?? 'm1.small',
        keyName,
        state: 'pending',
        publicIp: '',
        privateIp: '',
        subnetId: subnet.id,
        vpcId: subnet.vpcId,
        az: subnet.az,
        groups: [...groups],
        associatePublicIp,
        clientToken: token,
        tags: { ...tags },
        launchTime: new Date().toISOString(),
      };
      this.instances.set(inst.id, inst);
      made.push(inst);
      this.launch(inst, key?.publicKey ?? '');
    }
    if (token) this.tokens.set(token, request);
    return this.reservations(made)[0] as Record<string, XmlValue>;
  }

  private launch(inst: Instance, publicKey: string): void {
    const fault = this.opts.faults?.terminateOnLaunch;
    this.later(inst, async () => {
      if (inst.state !== 'pending') return;
      if (fault) {
        // It never runs: EC2 gives up on it and says why in stateReason.
        inst.state = 'shutting-down';
        inst.stateReason = { ...fault };
        this.later(inst, async () => void (inst.state = 'terminated'));
        return;
      }
      const addr = this.opts.backend ? await this.opts.backend.launch({ id: inst.id, name: inst.tags['Name'] ?? inst.id, publicKey }) : { publicIp: '', privateIp: '' };
      this.expose(inst, addr);
      if (inst.state === 'pending') inst.state = 'running';
    });
  }

  /** The backend's address, shown as public only when the instance has a public address. */
  private expose(inst: Instance, addr: { publicIp: string; privateIp: string }): void {
    inst.privateIp = addr.privateIp;
    inst.publicIp = inst.associatePublicIp ? addr.publicIp : '';
  }

  private describeInstances(p: URLSearchParams): Instance[] {
    const ids = list(p, 'InstanceId');
    const unknown = ids.filter((i) => !this.instances.has(i));
    if (unknown.length > 1) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance IDs '${unknown.join(', ')}' do not exist`);
    if (unknown.length) throw this.noInstance(unknown[0]!);
    const all = [...this.instances.values()].filter((i) => !ids.length || ids.includes(i.id));
    return filtered(
      p,
      all,
      {
        'instance-id': (i) => i.id,
        'instance-state-name': (i) => i.state,
        'instance-state-code': (i) => STATE_CODE[i.state],
        'vpc-id': (i) => i.vpcId,
        'subnet-id': (i) => i.subnetId,
        'client-token': (i) => i.clientToken,
        'image-id': (i) => i.imageId,
        'instance-type': (i) => i.type,
        'key-name': (i) => i.keyName,
        'availability-zone': (i) => i.az,
        'reservation-id': (i) => i.reservationId,
        'instance.group-id': (i) => i.groups,
        'private-ip-address': (i) => i.privateIp,
        'ip-address': (i) => i.publicIp,
      },
      (i) => i.tags,
    );
  }

  /** Instances in their reservations, in launch order. */
  private reservations(insts: Instance[]): XmlValue[] {
    const byRes = new Map<string, Instance[]>();
    for (const i of insts) byRes.set(i.reservationId, [...(byRes.get(i.reservationId) ?? []), i]);
    return [...byRes].map(([reservationId, is]) => ({ reservationId, ownerId: ACCOUNT, groupSet: [], instancesSet: is.map((i) => this.instanceXml(i)) }));
  }

  private transition(action: string, ids: string[]): Record<string, XmlValue> {
    const insts = ids.map((i) => this.instances.get(i) ?? this.noInstance(i));
    for (const inst of insts) if (inst instanceof Ec2Error) throw inst;
    const out: XmlValue[] = [];
    const backend = this.opts.backend;
    for (const inst of insts as Instance[]) {
      const previous = inst.state;
      const gone = previous === 'shutting-down' || previous === 'terminated';
      if ((action === 'StopInstances' && (gone || previous === 'pending')) || (action === 'StartInstances' && gone)) {
        throw new Ec2Error('IncorrectInstanceState', `The instance '${inst.id}' is not in a state from which it can be ${action === 'StopInstances' ? 'stopped' : 'started'}.`);
      }
      if (action === 'StopInstances' && previous === 'running') {
        inst.state = 'stopping';
        inst.stateReason = USER_SHUTDOWN;
        this.later(inst, async () => {
          await backend?.stop(inst.id);
          inst.state = 'stopped';
          inst.publicIp = '';
        });
      } else if (action === 'StartInstances' && previous === 'stopped') {
        inst.state = 'pending';
        delete inst.stateReason;
        this.later(inst, async () => {
          this.expose(inst, backend ? await backend.start(inst.id) : { publicIp: '', privateIp: '' });
          inst.state = 'running';
        });
      } else if (action === 'TerminateInstances' && !gone) {
        inst.state = 'shutting-down';
        inst.stateReason = USER_SHUTDOWN;
        this.later(inst, async () => {
          await backend?.terminate(inst.id);
          inst.state = 'terminated';
          inst.publicIp = '';
        });
      }
      out.push({ instanceId: inst.id, currentState: { code: STATE_CODE[inst.state], name: inst.state }, previousState: { code: STATE_CODE[previous], name: previous } });
    }
    return action === 'RebootInstances' ? { return: true } : { instancesSet: out };
  }

  private instanceXml(i: Instance): Record<string, XmlValue> {
    return {
      instanceId: i.id,
      imageId: i.imageId,
      instanceState: { code: STATE_CODE[i.state], name: i.state },
      privateDnsName: i.privateIp ? `ip-${i.privateIp.replace(/\./g, '-')}.ec2.internal` : '',
      dnsName: '',
      keyName: i.keyName || undefined,
      instanceType: i.type,
      launchTime: i.launchTime,
      placement: { availabilityZone: i.az, tenancy: 'default' },
      subnetId: i.subnetId,
      vpcId: i.vpcId,
      privateIpAddress: i.privateIp || undefined,
      // Only an instance with a public address shows one.
      ipAddress: i.publicIp || undefined,
      groupSet: i.groups.map((g) => ({ groupId: g, groupName: this.groups.get(g)?.name ?? '' })),
      stateReason: i.stateReason,
      clientToken: i.clientToken || undefined,
      tagSet: tagSet(i.tags),
      rootDeviceType: 'ebs',
      rootDeviceName: '/dev/sda1',
      architecture: 'x86_64',
    };
  }
}
