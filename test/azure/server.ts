import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from './errors.js';
import { ArmError, type ErrorBody } from './errors.js';
import { makePki } from './tls.js';

// A local Azure Resource Manager endpoint for the azure driver's tests, speaking what the
// SDKs send (@azure/arm-resources 2025-04-01, @azure/arm-network 2025-05-01,
// @azure/arm-compute 2026-03-01 for VMs and availability sets, 2025-01-02 for disks).
// Shapes, status codes, long-running-operation headers and error texts follow the
// azure-rest-api-specs examples and recorded Azure answers named in
// drivers-test-fixtures/azure/SOURCES.md.
//
// It is strict where Azure is, so a driver that relies on leniency fails here too: paths
// are case-insensitive but ids keep their casing, a resource in use cannot be deleted,
// every write of the network and compute providers is a long-running operation that the
// client must poll, a Dynamic public IP has an address only while its VM is allocated, and
// a VM's OS disk outlives the VM unless its deleteOption is Delete.

/** The hosts behind the VMs: each VM is a real, reachable test host in the e2e tests. */
export interface VmBackend {
  create(vm: { id: string; name: string; adminUsername: string; publicKeys: string[]; customData?: string }): Promise<{ ip: string }>;
  deallocate(id: string): Promise<void>;
  start(id: string): Promise<{ ip: string }>;
  restart?(id: string): Promise<void>;
  powerOff(id: string): Promise<void>;
  remove(id: string): Promise<void>;
}

export interface Faults {
  /** The first N requests answer 429 SubscriptionRequestsThrottled with Retry-After: 1. */
  throttleFirst?: number;
  /** VM PUT answers 409 OperationNotAllowed (core quota) at once; nothing is made. */
  quotaOnVm?: boolean;
  /** The VM PUT's operation ends Failed with this error; the VM stays, provisioningState Failed. */
  failVmCreate?: { code: string; message: string };
  /** The first N requests (after any throttled ones) answer 500 and 503 in turn. */
  transientFirst?: number;
}

/** Awaited before a request is handled and after (the change made, the answer not yet written). */
export type PauseHook = (op: string, phase: 'before' | 'after') => Promise<void> | void;

export interface ArmEndpointOptions {
  /** The one bearer token accepted (`Authorization: Bearer <token>`). */
  token: string;
  /** The one subscription there is; any other answers 404 SubscriptionNotFound. */
  subscriptionId: string;
  /** Makes each VM a real host; without it addresses come from a pool and nothing runs. */
  backend?: VmBackend;
  faults?: Faults;
  /** How many status polls answer InProgress before the end state (default 1). */
  lroPolls?: number;
  /**
   * Retry-After (seconds) on long-running answers, default 1. The SDKs' pollers wait that
   * long between polls; 0 lets the client's own interval (updateIntervalInMs) decide.
   */
  retryAfter?: number;
  pause?: PauseHook;
}

/** ARM's free-form `properties` bag: JSON of many shapes, typed by the SDK models on the client side. */
export type Props = Record<string, any>;

export type { ErrorBody } from './errors.js';

export interface Resource {
  id: string;
  name: string;
  type: string;
  /** Absent on subnets, as ARM gives them. */
  location?: string;
  tags?: Record<string, string>;
  properties: Props;
  sku?: { name: string; tier?: string };
  zones?: string[];
  managedBy?: string;
  etag?: string;
}

export interface Call {
  method: string;
  path: string;
  apiVersion: string;
  status: number;
}

export type PowerState = 'starting' | 'running' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated';

interface Operation {
  id: string;
  provider: 'Microsoft.Network' | 'Microsoft.Compute' | 'Microsoft.Resources';
  location: string;
  startTime: string;
  endTime?: string;
  polls: number;
  /** The backend work is over (successfully or not). */
  ready: boolean;
  done: boolean;
  ip?: string;
  error?: ErrorBody;
  commit: (op: Operation) => void;
  /** The resource it works on (lower-case id): a later operation on it completes this one. */
  key?: string;
  timer?: NodeJS.Timeout;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Ctx {
  method: string;
  url: URL;
  body: Props;
  /** https://host:port as the client dialled it: the base of every URL we hand out. */
  base: string;
  apiVersion: string;
}

type Target =
  | { kind: 'subscription' }
  | { kind: 'groups' }
  | { kind: 'group'; rg: string }
  | { kind: 'groupResources'; rg: string }
  | { kind: 'rgResult'; opId: string }
  | { kind: 'operation'; opId: string; result: boolean }
  | { kind: 'resource'; rg?: string; type: string; names: string[]; action?: string }
  | { kind: 'collection'; rg?: string; type: string; names: string[] };

const KNOWN_TYPES = [
  'Microsoft.Network/networkSecurityGroups',
  'Microsoft.Network/virtualNetworks',
  'Microsoft.Network/virtualNetworks/subnets',
  'Microsoft.Network/publicIPAddresses',
  'Microsoft.Network/networkInterfaces',
  'Microsoft.Compute/virtualMachines',
  'Microsoft.Compute/disks',
  'Microsoft.Compute/availabilitySets',
];
const TYPES = new Map(KNOWN_TYPES.map((t) => [t.toLowerCase(), t]));
const RG_TYPE = 'Microsoft.Resources/resourceGroups';

// The sizes of one region's list, enough for the driver's defaults and tests.
const SIZES = [
  'Standard_A2_v2', 'Standard_B1s', 'Standard_B1ms', 'Standard_B2s', 'Standard_B2ms', 'Standard_B2ats_v2', 'Standard_B2s_v2',
  'Standard_DS1_v2', 'Standard_DS2_v2', 'Standard_D2s_v3', 'Standard_D2s_v5', 'Standard_D4s_v5', 'Standard_D2as_v5',
  'Standard_D2ds_v5', 'Standard_F2s_v2',
];

// Platform images by publisher:offer (lower case) and their SKUs.
const IMAGES: Record<string, string[]> = {
  'canonical:ubuntu-24_04-lts': ['server', 'server-gen1', 'server-arm64', 'minimal'],
  'canonical:0001-com-ubuntu-server-jammy': ['22_04-lts', '22_04-lts-gen2', '22_04-lts-arm64'],
  'canonical:0001-com-ubuntu-server-focal': ['20_04-lts', '20_04-lts-gen2'],
  'debian:debian-12': ['12', '12-gen2'],
};

// The six rules every NSG has, as NetworkSecurityGroupCreateWithRule.json shows them.
const DEFAULT_RULES: Array<[string, string, string, string, string, number, string]> = [
  ['AllowVnetInBound', 'Allow inbound traffic from all VMs in VNET', 'Allow', 'VirtualNetwork', 'Inbound', 65000, 'VirtualNetwork'],
  ['AllowAzureLoadBalancerInBound', 'Allow inbound traffic from azure load balancer', 'Allow', '*', 'Inbound', 65001, 'AzureLoadBalancer'],
  ['DenyAllInBound', 'Deny all inbound traffic', 'Deny', '*', 'Inbound', 65500, '*'],
  ['AllowVnetOutBound', 'Allow outbound traffic from all VMs to all VMs in VNET', 'Allow', 'VirtualNetwork', 'Outbound', 65000, 'VirtualNetwork'],
  ['AllowInternetOutBound', 'Allow outbound traffic from all VMs to Internet', 'Allow', 'Internet', 'Outbound', 65001, '*'],
  ['DenyAllOutBound', 'Deny all outbound traffic', 'Deny', '*', 'Outbound', 65500, '*'],
];

const now = () => new Date().toISOString();
const clone = <T>(x: T): T => structuredClone(x);
const lower = (s: string) => s.toLowerCase();
/** ARM keeps locations as lower-case names without spaces ("West Europe" is westeurope). */
const normLocation = (l: unknown) => String(l ?? '').replace(/\s+/g, '').toLowerCase();
const ipToInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const intToIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
const ref = (id: unknown): string | undefined => (id && typeof id === 'object' && typeof (id as Props).id === 'string' ? (id as Props).id : undefined);

export class ArmEndpoint {
  readonly caPem: string;
  readonly caFile: string;
  readonly calls: Call[] = [];
  /** Every resource, keyed by lower-cased id (resource groups included). */
  readonly resources = new Map<string, Resource>();
  private readonly power = new Map<string, PowerState>();
  private readonly failures = new Map<string, ErrorBody>();
  /** VMs the backend made a host for (a failed create makes none, so there is none to remove). */
  private readonly hosts = new Set<string>();
  private readonly ops = new Map<string, Operation>();
  private readonly pending = new Map<string, Operation>();
  private readonly work = new Map<string, Promise<unknown>>();
  private readonly pki: { certPem: string; keyPem: string };
  private readonly dir: string;
  private server?: Server;
  private faultCount = 0;
  private publicIps = 0;
  private readonly lroPolls: number;
  private readonly retryAfter: string;

  constructor(private readonly opts: ArmEndpointOptions) {
    const pki = makePki();
    this.pki = pki;
    this.caPem = pki.caPem;
    this.dir = mkdtempSync(join(tmpdir(), 'arm-endpoint-'));
    this.caFile = join(this.dir, 'ca.pem');
    writeFileSync(this.caFile, pki.caPem);
    this.lroPolls = opts.lroPolls ?? 1;
    this.retryAfter = String(opts.retryAfter ?? 1);
  }

  async listen(): Promise<string> {
    this.server = createServer({ key: this.pki.keyPem, cert: this.pki.certPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.serve(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `https://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    for (const op of this.ops.values()) clearTimeout(op.timer);
    rmSync(this.dir, { recursive: true, force: true });
    return new Promise((r) => {
      if (!this.server) return r();
      this.server.close(() => r());
      // A request a test left paused, or a client's keep-alive socket, must not hold close().
      this.server.closeAllConnections();
    });
  }

  /** Resources of one type, e.g. list('Microsoft.Compute/virtualMachines'). */
  list(type: string): Resource[] {
    return [...this.resources.values()].filter((r) => lower(r.type) === lower(type));
  }

  get(id: string): Resource | undefined {
    return this.resources.get(lower(id));
  }

  /** A VM's power state as its instance view shows it (undefined: unknown, e.g. failed create). */
  powerState(vmId: string): PowerState | undefined {
    return this.power.get(lower(vmId));
  }

  // ---------------------------------------------------------------- transport

  private async serve(req: IncomingMessage, raw: string, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `https://${req.headers.host ?? '127.0.0.1'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const apiVersion = url.searchParams.get('api-version') ?? '';
    const requestId = randomUUID();
    let answer: Answer;
    try {
      answer = await this.answer(req, method, url, raw, apiVersion, requestId);
    } catch (err) {
      answer = this.fail(err);
    }
    this.calls.push({ method, path: decode(url.pathname), apiVersion, status: answer.status });
    // A client that went away meanwhile gets nothing; what was made stays made, as on Azure.
    if (req.socket.destroyed || res.destroyed) return;
    res.on('error', () => undefined);
    const noBody = answer.body === undefined || method === 'HEAD' || answer.status === 204;
    const text = noBody ? '' : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      'Cache-Control': 'no-cache',
      Pragma: 'no-cache',
      Expires: '-1',
      'x-ms-request-id': requestId,
      'x-ms-correlation-request-id': String(req.headers['x-ms-client-request-id'] ?? requestId),
      ...(noBody ? { 'Content-Length': '0' } : { 'Content-Type': 'application/json; charset=utf-8' }),
      ...answer.headers,
    });
    res.end(text);
  }

  private fail(err: unknown): Answer {
    const e = err instanceof ArmError ? err : new ArmError(500, 'InternalServerError', (err as Error).message);
    return { status: e.status, body: e.body(), headers: e.headers };
  }

  private async answer(req: IncomingMessage, method: string, url: URL, raw: string, apiVersion: string, requestId: string): Promise<Answer> {
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${this.opts.token}`) throw E.unauthenticated(!auth);
    const segs = url.pathname.split('/').filter(Boolean).map(decode);
    if (lower(segs[0] ?? '') !== 'subscriptions' || !segs[1]) throw new ArmError(404, 'NotFound', `The requested path '${url.pathname}' was not found.`);
    const sub = segs[1];
    if (sub !== this.opts.subscriptionId) throw E.subscriptionNotFound(sub);
    const n = ++this.faultCount;
    const throttle = this.opts.faults?.throttleFirst ?? 0;
    if (n <= throttle) throw E.throttled(sub, method === 'GET' || method === 'HEAD' ? 'read' : method === 'DELETE' ? 'delete' : 'write');
    if (n <= throttle + (this.opts.faults?.transientFirst ?? 0)) throw (n - throttle) % 2 ? E.internalError(sub, requestId) : E.serverTimeout(sub, requestId);
    if (!apiVersion) throw E.missingApiVersion();
    let body: Props = {};
    if (raw.trim()) {
      try {
        body = JSON.parse(raw) as Props;
      } catch (err) {
        throw new ArmError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: '${(err as Error).message}'.`);
      }
    }
    const target = parse(segs.slice(2));
    const op = opName(method, target);
    await this.opts.pause?.(op, 'before');
    const ctx: Ctx = { method, url, body, base: `https://${req.headers.host ?? '127.0.0.1'}`, apiVersion };
    const answer = await Promise.resolve()
      .then(() => this.route(ctx, target))
      .catch((err: unknown) => this.fail(err));
    await this.opts.pause?.(op, 'after');
    return answer;
  }

  private route(ctx: Ctx, t: Target): Answer {
    const sub = this.opts.subscriptionId;
    switch (t.kind) {
      case 'subscription':
        return { status: 200, body: { id: `/subscriptions/${sub}`, subscriptionId: sub, displayName: 'machine tests', state: 'Enabled' } };
      case 'groups':
        if (ctx.method !== 'GET') throw notAllowed(ctx.method);
        return { status: 200, body: { value: this.list(RG_TYPE).map(clone) } };
      case 'group':
        return this.group(ctx, t.rg);
      case 'groupResources': {
        // Resources.ListByResourceGroup: the group's top-level resources (no subnets), generic shape.
        if (ctx.method !== 'GET') throw notAllowed(ctx.method);
        if (!this.get(`/subscriptions/${sub}/resourceGroups/${t.rg}`)) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${t.rg}' could not be found.`);
        const prefix = lower(`/subscriptions/${sub}/resourceGroups/${t.rg}/providers/`);
        const inGroup = [...this.resources.values()].filter((r) => lower(r.id).startsWith(prefix) && r.type.split('/').length === 2);
        return { status: 200, body: { value: inGroup.map((r) => ({ id: r.id, name: r.name, type: r.type, location: r.location, ...(r.tags ? { tags: r.tags } : {}) })) } };
      }
      case 'rgResult':
      case 'operation':
        return this.pollAnswer(ctx, t);
      case 'collection':
        if (ctx.method !== 'GET') throw notAllowed(ctx.method);
        return { status: 200, body: { value: this.collection(t).map((r) => this.render(r, ctx)) } };
      case 'resource':
        return this.resource(ctx, t);
    }
  }

  // ---------------------------------------------------------------- long-running operations

  /**
   * Starts an operation: its backend work runs now (after earlier work on the same
   * resource); its commit (the end state) runs when a poll finds the work over and
   * `lroPolls` polls already answered InProgress, or, for a client that stopped polling,
   * a few seconds after the work is over.
   */
  private begin(provider: Operation['provider'], location: string, commit: (op: Operation) => void, key?: string, work?: () => Promise<{ ip: string } | void>): Operation {
    const op: Operation = { id: randomUUID(), provider, location, startTime: now(), polls: 0, ready: false, done: false, commit, ...(key ? { key } : {}) };
    this.ops.set(op.id, op);
    if (key) {
      const earlier = this.pending.get(key);
      if (earlier) this.complete(earlier);
      this.pending.set(key, op);
    }
    const run = (key ? this.work.get(key) ?? Promise.resolve() : Promise.resolve()).then(() => work?.());
    const settled = run.then(
      (r) => {
        if (r) op.ip = r.ip;
      },
      (err: unknown) => {
        op.error = err instanceof ArmError ? err.body().error : E.internalOperation((err as Error).message);
      },
    );
    if (key) this.work.set(key, settled);
    void settled.then(() => {
      op.ready = true;
      op.timer = setTimeout(() => this.complete(op), 5000 + 2000 * this.lroPolls);
      op.timer.unref();
    });
    return op;
  }

  private complete(op: Operation): void {
    if (op.done) return;
    op.done = true;
    op.endTime = now();
    clearTimeout(op.timer);
    if (op.key && this.pending.get(op.key) === op) this.pending.delete(op.key);
    op.commit(op);
  }

  private poll(op: Operation): void {
    op.polls++;
    if (!op.done && op.ready && op.polls > this.lroPolls) this.complete(op);
  }

  private status(op: Operation): string {
    return !op.done ? 'InProgress' : op.error ? 'Failed' : 'Succeeded';
  }

  private asyncUrl(ctx: Ctx, op: Operation): string {
    return `${ctx.base}/subscriptions/${this.opts.subscriptionId}/providers/${op.provider}/locations/${op.location}/operations/${op.id}?api-version=${ctx.apiVersion}`;
  }

  private locationUrl(ctx: Ctx, op: Operation): string {
    const sub = `${ctx.base}/subscriptions/${this.opts.subscriptionId}`;
    if (op.provider === 'Microsoft.Resources') return `${sub}/operationresults/${op.id}?api-version=${ctx.apiVersion}`;
    if (op.provider === 'Microsoft.Network') return `${sub}/providers/Microsoft.Network/locations/${op.location}/operationResults/${op.id}?api-version=${ctx.apiVersion}`;
    return `${sub}/providers/Microsoft.Compute/locations/${op.location}/operations/${op.id}?monitor=true&api-version=${ctx.apiVersion}`;
  }

  /** Headers of an accepted write: where to poll, and how long to wait between polls. */
  private lroHeaders(ctx: Ctx, op: Operation, location: boolean): Record<string, string> {
    return {
      'Azure-AsyncOperation': this.asyncUrl(ctx, op),
      ...(location ? { Location: this.locationUrl(ctx, op) } : {}),
      'Retry-After': this.retryAfter,
    };
  }

  private pollAnswer(ctx: Ctx, t: Extract<Target, { kind: 'rgResult' | 'operation' }>): Answer {
    const op = this.ops.get(t.opId);
    if (!op || ctx.method !== 'GET') throw new ArmError(404, 'NotFound', `The operation '${t.opId}' could not be found.`);
    this.poll(op);
    // Location URLs (ARM's operationresults, NRP's operationResults, CRP's monitor=true):
    // 202 while running, then the end as an HTTP status.
    if (t.kind === 'rgResult' || t.result || ctx.url.searchParams.get('monitor') === 'true') {
      if (!op.done) return { status: 202, headers: { Location: ctx.url.href, 'Retry-After': this.retryAfter } };
      if (op.error) return { status: 400, body: { error: op.error } };
      return { status: op.provider === 'Microsoft.Network' ? 204 : 200 };
    }
    const status = this.status(op);
    const error = op.error && op.done ? { error: op.error } : {};
    // While running, Retry-After tells the poller how long to wait before the next poll.
    const headers: Record<string, string> = op.done ? {} : { 'Retry-After': this.retryAfter };
    if (op.provider === 'Microsoft.Compute') {
      return { status: 200, headers, body: { startTime: op.startTime, ...(op.endTime ? { endTime: op.endTime } : {}), status, ...error, name: op.id } };
    }
    return { status: 200, headers, body: { status, ...error } };
  }

  // ---------------------------------------------------------------- resource groups

  private rgId(name: string): string {
    return `/subscriptions/${this.opts.subscriptionId}/resourceGroups/${name}`;
  }

  /** The group, or ARM's 404; a write into a group being deleted is refused. */
  private requireGroup(rg: string | undefined, write = false): Resource {
    const group = rg === undefined ? undefined : this.get(this.rgId(rg));
    if (!group) throw E.resourceGroupNotFound(rg ?? '');
    if (write && group.properties.provisioningState === 'Deleting') throw E.resourceGroupBeingDeleted(group.name);
    return group;
  }

  private group(ctx: Ctx, rg: string): Answer {
    const key = lower(this.rgId(rg));
    const existing = this.resources.get(key);
    switch (ctx.method) {
      case 'PUT': {
        const location = normLocation(ctx.body.location);
        if (!location) throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
        if (existing) {
          if (existing.properties.provisioningState === 'Deleting') throw E.resourceGroupBeingDeleted(existing.name);
          if (existing.location !== location) throw E.invalidRgLocation(rg, location, existing.location ?? '');
          if (ctx.body.tags) existing.tags = { ...ctx.body.tags };
          return { status: 200, body: clone(existing) };
        }
        const group: Resource = { id: this.rgId(rg), name: rg, type: RG_TYPE, location, ...(ctx.body.tags ? { tags: { ...ctx.body.tags } } : {}), properties: { provisioningState: 'Succeeded' } };
        this.resources.set(key, group);
        return { status: 201, body: clone(group) };
      }
      case 'GET':
        if (!existing) throw E.resourceGroupNotFound(rg);
        return { status: 200, body: clone(existing) };
      case 'HEAD':
        return { status: existing ? 204 : 404 };
      case 'PATCH':
        if (!existing) throw E.resourceGroupNotFound(rg);
        if (ctx.body.tags) existing.tags = { ...ctx.body.tags };
        return { status: 200, body: clone(existing) };
      case 'DELETE': {
        if (!existing) throw E.resourceGroupNotFound(rg);
        const again = this.deleting(ctx, existing);
        if (again) return again;
        existing.properties.provisioningState = 'Deleting';
        const prefix = `${key}/`;
        const inside = () => [...this.resources.keys()].filter((k) => k.startsWith(prefix));
        const vms = inside().filter((k) => lower(this.resources.get(k)!.type) === 'microsoft.compute/virtualmachines');
        const op = this.begin(
          'Microsoft.Resources',
          existing.location ?? '',
          () => {
            for (const k of [...inside(), key]) this.forget(k);
          },
          key,
          async () => {
            for (const vm of vms) {
              await this.work.get(vm);
              if (this.hosts.delete(vm)) await this.opts.backend?.remove(this.resources.get(vm)?.id ?? vm);
            }
          },
        );
        return { status: 202, headers: { Location: this.locationUrl(ctx, op), 'Retry-After': this.retryAfter } };
      }
      default:
        throw notAllowed(ctx.method);
    }
  }

  private forget(key: string): void {
    this.resources.delete(key);
    this.power.delete(key);
    this.failures.delete(key);
  }

  // ---------------------------------------------------------------- resources

  private idOf(rg: string, type: string, names: string[]): string {
    const [ns, ...kinds] = type.split('/');
    const path = kinds.map((k, i) => `${k}/${names[i]}`).join('/');
    return `${this.rgId(rg)}/providers/${ns}/${path}`;
  }

  private collection(t: Extract<Target, { kind: 'collection' }>): Resource[] {
    const type = TYPES.get(lower(t.type))!;
    let scope = `/subscriptions/${this.opts.subscriptionId}/`;
    if (t.rg !== undefined) {
      const group = this.requireGroup(t.rg);
      scope = `${group.id}/`;
      if (t.names.length) {
        // Subnets of one VNet: the VNet must be there.
        const parentType = type.split('/').slice(0, -1).join('/');
        const parent = this.idOf(group.name, parentType, t.names);
        if (!this.get(parent)) throw E.resourceNotFound(parentType, t.names.join('/'), group.name);
        scope = `${parent}/`;
      }
    }
    return this.list(type).filter((r) => lower(r.id).startsWith(lower(scope)));
  }

  private resource(ctx: Ctx, t: Extract<Target, { kind: 'resource' }>): Answer {
    const type = TYPES.get(lower(t.type));
    if (!type || t.rg === undefined) throw new ArmError(400, 'InvalidResourceType', `The resource type '${t.type.split('/').slice(1).join('/')}' could not be found in the namespace '${t.type.split('/')[0]}' for api version '${ctx.apiVersion}'.`);
    const group = this.requireGroup(t.rg, ctx.method === 'PUT' || ctx.method === 'POST');
    const id = this.idOf(group.name, type, t.names);
    const existing = this.get(id);
    if (t.action) {
      if (type !== 'Microsoft.Compute/virtualMachines') throw notAllowed(ctx.method);
      if (!existing) throw E.resourceNotFound(type, t.names[0]!, group.name);
      return this.vmAction(ctx, existing, t.action);
    }
    switch (ctx.method) {
      case 'GET':
        if (!existing) throw this.notFound(type, t.names, group.name, id);
        return { status: 200, body: this.render(existing, ctx) };
      case 'PUT':
        if (type.startsWith('Microsoft.Network/')) return this.networkPut(ctx, group, type, id, t.names, existing);
        if (type === 'Microsoft.Compute/virtualMachines') return this.vmPut(ctx, group, id, t.names[0]!, existing);
        if (type === 'Microsoft.Compute/availabilitySets') return this.availabilitySetPut(ctx, group, id, t.names[0]!);
        throw notAllowed(ctx.method);
      case 'DELETE':
        if (!existing) return { status: 204 };
        if (type.startsWith('Microsoft.Network/')) return this.networkDelete(ctx, existing);
        if (type === 'Microsoft.Compute/virtualMachines') return this.vmDelete(ctx, existing);
        if (type === 'Microsoft.Compute/disks') return this.diskDelete(ctx, existing);
        return this.availabilitySetDelete(existing);
      default:
        throw notAllowed(ctx.method);
    }
  }

  private notFound(type: string, names: string[], rg: string, id: string): ArmError {
    if (names.length < 2) return E.resourceNotFound(type, names[0]!, rg);
    const parentType = type.split('/').slice(0, -1).join('/');
    if (!this.get(this.idOf(rg, parentType, names.slice(0, -1)))) return E.resourceNotFound(parentType, names[0]!, rg);
    return E.nrpNotFound(id);
  }

  /** A referenced resource that must exist (NRP's InvalidResourceReference otherwise). */
  private mustRef(refId: string | undefined, by: string, type: string): Resource | undefined {
    if (refId === undefined) return undefined;
    const found = this.get(refId);
    if (!found || lower(found.type) !== lower(type)) throw E.invalidReference(refId, by);
    return found;
  }

  // ---------------------------------------------------------------- network

  private networkPut(ctx: Ctx, group: Resource, type: string, id: string, names: string[], existing?: Resource): Answer {
    const b = ctx.body;
    const name = names[names.length - 1]!;
    const base = (location: string | undefined): Resource => ({
      id,
      name,
      type,
      ...(location ? { location } : {}),
      ...(b.tags ? { tags: { ...b.tags } } : {}),
      etag: `W/"${randomUUID()}"`,
      properties: { provisioningState: 'Updating' },
    });
    const touched: Resource[] = [];
    let res: Resource;
    const location = normLocation(b.location) || existing?.location || group.location || '';
    switch (type) {
      case 'Microsoft.Network/networkSecurityGroups': {
        res = base(location);
        res.properties.securityRules = (b.properties?.securityRules ?? []).map((r: Props) => ({ name: r.name, properties: { ...r.properties } }));
        res.properties.resourceGuid = existing?.properties.resourceGuid ?? randomUUID();
        break;
      }
      case 'Microsoft.Network/virtualNetworks': {
        res = base(location);
        const { subnets = [], ...props } = b.properties ?? {};
        Object.assign(res.properties, props, { resourceGuid: existing?.properties.resourceGuid ?? randomUUID(), provisioningState: 'Updating' });
        // A PUT replaces the VNet whole: subnets it leaves out are deleted, unless in use.
        const keep = new Set((subnets as Props[]).map((s) => lower(`${id}/subnets/${s.name}`)));
        for (const old of this.list('Microsoft.Network/virtualNetworks/subnets').filter((s) => lower(s.id).startsWith(lower(`${id}/`)))) {
          if (keep.has(lower(old.id))) continue;
          const user = this.subnetUser(old.id);
          if (user) throw E.subnetInUse(old.name, user);
          this.forget(lower(old.id));
        }
        for (const s of subnets as Props[]) touched.push(this.subnet(`${id}/subnets/${s.name}`, s.name, s.properties ?? {}));
        break;
      }
      case 'Microsoft.Network/virtualNetworks/subnets': {
        const vnet = this.get(id.slice(0, id.lastIndexOf('/subnets/')));
        if (!vnet) throw E.parentNotFound(names[0]!);
        res = this.subnet(id, name, b.properties ?? {});
        return this.networkAccepted(ctx, res, [], vnet.location ?? location, !existing);
      }
      case 'Microsoft.Network/publicIPAddresses': {
        res = base(location);
        res.sku = b.sku?.name ? { name: b.sku.name, tier: b.sku.tier ?? 'Regional' } : { name: 'Basic', tier: 'Regional' };
        const method = b.properties?.publicIPAllocationMethod ?? (res.sku.name === 'Basic' ? 'Dynamic' : 'Static');
        if (res.sku.name !== 'Basic' && method === 'Dynamic') throw E.standardMustBeStatic(id);
        if (b.zones) res.zones = [...b.zones];
        Object.assign(res.properties, {
          publicIPAddressVersion: b.properties?.publicIPAddressVersion ?? 'IPv4',
          publicIPAllocationMethod: method,
          idleTimeoutInMinutes: b.properties?.idleTimeoutInMinutes ?? 4,
          resourceGuid: existing?.properties.resourceGuid ?? randomUUID(),
          ...(b.properties?.dnsSettings ? { dnsSettings: { ...b.properties.dnsSettings } } : {}),
        });
        // Static: an address from the start. Dynamic: only while a VM using it is allocated.
        const had = existing?.properties.ipAddress as string | undefined;
        if (method === 'Static') res.properties.ipAddress = had ?? this.nextPublicIp();
        else if (had) res.properties.ipAddress = had;
        break;
      }
      case 'Microsoft.Network/networkInterfaces': {
        res = base(location);
        const configs = (b.properties?.ipConfigurations ?? []) as Props[];
        if (!configs.length) throw new ArmError(400, 'NetworkInterfaceMustHaveAtLeastOneIpConfiguration', `Network interface ${id} must have at least one IP configuration.`);
        this.mustRef(ref(b.properties?.networkSecurityGroup), id, 'Microsoft.Network/networkSecurityGroups');
        const old = (existing?.properties.ipConfigurations ?? []) as Props[];
        res.properties.ipConfigurations = configs.map((c, i) => {
          const subnet = ref(c.properties?.subnet);
          this.mustRef(subnet, id, 'Microsoft.Network/virtualNetworks/subnets');
          this.mustRef(ref(c.properties?.publicIPAddress), id, 'Microsoft.Network/publicIPAddresses');
          const method = c.properties?.privateIPAllocationMethod ?? 'Dynamic';
          const before = old.find((o) => o.name === c.name)?.properties.privateIPAddress as string | undefined;
          const address = method === 'Static' ? c.properties?.privateIPAddress : before ?? (subnet ? this.nextPrivateIp(subnet) : undefined);
          return {
            name: c.name,
            properties: {
              ...c.properties,
              privateIPAllocationMethod: method,
              ...(address ? { privateIPAddress: address } : {}),
              primary: c.properties?.primary ?? i === 0,
            },
          };
        });
        Object.assign(res.properties, {
          ...(b.properties?.networkSecurityGroup ? { networkSecurityGroup: { id: ref(b.properties.networkSecurityGroup) } } : {}),
          enableAcceleratedNetworking: b.properties?.enableAcceleratedNetworking ?? false,
          enableIPForwarding: b.properties?.enableIPForwarding ?? false,
          dnsSettings: { dnsServers: b.properties?.dnsSettings?.dnsServers ?? [], appliedDnsServers: [] },
          resourceGuid: existing?.properties.resourceGuid ?? randomUUID(),
          ...(existing?.properties.macAddress ? { macAddress: existing.properties.macAddress } : {}),
        });
        break;
      }
      default:
        throw notAllowed(ctx.method);
    }
    return this.networkAccepted(ctx, res, touched, location, !existing);
  }

  /** Stores a network resource as Updating and answers with the operation to poll. */
  private networkAccepted(ctx: Ctx, res: Resource, children: Resource[], location: string, created: boolean): Answer {
    this.resources.set(lower(res.id), res);
    for (const c of children) this.resources.set(lower(c.id), c);
    const op = this.begin('Microsoft.Network', location, (o) => {
      for (const r of [res, ...children]) r.properties.provisioningState = o.error ? 'Failed' : 'Succeeded';
    });
    return { status: created ? 201 : 200, body: this.render(res, ctx), headers: this.lroHeaders(ctx, op, false) };
  }

  private subnet(id: string, name: string, props: Props): Resource {
    const nsg = ref(props.networkSecurityGroup);
    this.mustRef(nsg, id, 'Microsoft.Network/networkSecurityGroups');
    if (!props.addressPrefix && !props.addressPrefixes) throw new ArmError(400, 'InvalidRequestFormat', `Cannot parse the request. Subnet ${id} has no addressPrefix.`);
    return {
      id,
      name,
      type: 'Microsoft.Network/virtualNetworks/subnets',
      etag: `W/"${randomUUID()}"`,
      properties: {
        ...props,
        ...(nsg ? { networkSecurityGroup: { id: nsg } } : {}),
        privateEndpointNetworkPolicies: props.privateEndpointNetworkPolicies ?? 'Disabled',
        privateLinkServiceNetworkPolicies: props.privateLinkServiceNetworkPolicies ?? 'Enabled',
        provisioningState: 'Updating',
      },
    };
  }

  private networkDelete(ctx: Ctx, res: Resource): Answer {
    const again = this.deleting(ctx, res);
    if (again) return again;
    const type = res.type;
    if (type === 'Microsoft.Network/virtualNetworks/subnets') {
      const user = this.subnetUser(res.id);
      if (user) throw E.subnetInUse(res.name, user);
    } else if (type === 'Microsoft.Network/virtualNetworks') {
      for (const s of this.subnetsOf(res.id)) {
        const user = this.subnetUser(s.id);
        if (user) throw E.subnetInUse(s.name, user);
      }
    } else if (type === 'Microsoft.Network/networkSecurityGroups') {
      const users = this.nsgUsers(res.id);
      if (users.length) throw E.nsgInUse(res.id, users);
    } else if (type === 'Microsoft.Network/publicIPAddresses') {
      const user = this.nicConfigs().find((c) => c.publicIp && lower(c.publicIp) === lower(res.id));
      if (user) throw E.publicIpInUse(res.id, user.id);
    } else if (type === 'Microsoft.Network/networkInterfaces') {
      const vm = this.vmOfNic(res.id);
      if (vm) throw E.nicInUse(res.id, vm.id);
    }
    res.properties.provisioningState = 'Deleting';
    const location = res.location ?? this.get(res.id.slice(0, res.id.lastIndexOf('/subnets/')))?.location ?? '';
    const op = this.begin(
      'Microsoft.Network',
      location,
      (o) => {
        if (o.error) return;
        for (const s of type === 'Microsoft.Network/virtualNetworks' ? this.subnetsOf(res.id) : []) this.forget(lower(s.id));
        this.forget(lower(res.id));
      },
      lower(res.id),
    );
    return { status: 202, headers: this.lroHeaders(ctx, op, true) };
  }

  private subnetsOf(vnetId: string): Resource[] {
    return this.list('Microsoft.Network/virtualNetworks/subnets').filter((s) => lower(s.id).startsWith(lower(`${vnetId}/subnets/`)));
  }

  /** Every NIC IP configuration, with what it points at. */
  private nicConfigs(): Array<{ nic: Resource; id: string; config: Props; subnet?: string; publicIp?: string }> {
    return this.list('Microsoft.Network/networkInterfaces').flatMap((nic) =>
      (nic.properties.ipConfigurations as Props[]).map((c) => ({
        nic,
        id: `${nic.id}/ipConfigurations/${c.name}`,
        config: c,
        ...(ref(c.properties.subnet) ? { subnet: ref(c.properties.subnet) } : {}),
        ...(ref(c.properties.publicIPAddress) ? { publicIp: ref(c.properties.publicIPAddress) } : {}),
      })),
    );
  }

  private subnetUser(subnetId: string): string | undefined {
    return this.nicConfigs().find((c) => c.subnet && lower(c.subnet) === lower(subnetId))?.id;
  }

  private nsgUsers(nsgId: string): string[] {
    const uses = (r: Resource) => lower(ref(r.properties.networkSecurityGroup) ?? '') === lower(nsgId);
    return [...this.list('Microsoft.Network/networkInterfaces').filter(uses), ...this.list('Microsoft.Network/virtualNetworks/subnets').filter(uses)].map((r) => r.id);
  }

  private vmOfNic(nicId: string): Resource | undefined {
    return this.list('Microsoft.Compute/virtualMachines').find((vm) => this.nicIds(vm).some((n) => lower(n) === lower(nicId)));
  }

  private nicIds(vm: Resource): string[] {
    return ((vm.properties.networkProfile?.networkInterfaces ?? []) as Props[]).map((n) => n.id as string);
  }

  /** Public addresses from a documentation-like pool when no backend gives real ones. */
  private nextPublicIp(): string {
    const n = this.publicIps++;
    return `20.0.${Math.floor(n / 250)}.${(n % 250) + 4}`;
  }

  /** The first free address of the subnet: Azure keeps the first four (and the last) for itself. */
  private nextPrivateIp(subnetId: string): string | undefined {
    const subnet = this.get(subnetId);
    const prefix = (subnet?.properties.addressPrefix ?? subnet?.properties.addressPrefixes?.[0]) as string | undefined;
    if (!prefix) return undefined;
    const [ip, bits] = prefix.split('/');
    const start = ipToInt(ip!);
    const size = 2 ** (32 - Number(bits ?? 32));
    const used = new Set(this.nicConfigs().filter((c) => c.subnet && lower(c.subnet) === lower(subnetId)).map((c) => c.config.properties.privateIPAddress as string));
    for (let i = 4; i < size - 1; i++) if (!used.has(intToIp(start + i))) return intToIp(start + i);
    throw new ArmError(400, 'SubnetIsFull', `Subnet ${subnet!.name} with address prefix ${prefix} does not have enough capacity for 1 IP addresses.`);
  }

  // ---------------------------------------------------------------- compute

  private availabilitySetPut(ctx: Ctx, group: Resource, id: string, name: string): Answer {
    const b = ctx.body;
    const set: Resource = {
      id,
      name,
      type: 'Microsoft.Compute/availabilitySets',
      location: normLocation(b.location) || group.location || '',
      ...(b.tags ? { tags: { ...b.tags } } : {}),
      sku: { name: b.sku?.name ?? 'Classic' },
      properties: {
        platformFaultDomainCount: b.properties?.platformFaultDomainCount ?? 2,
        platformUpdateDomainCount: b.properties?.platformUpdateDomainCount ?? 5,
      },
    };
    this.resources.set(lower(id), set);
    // 200 made or replaced: the spec (AvailabilitySet_Create.json) and the SDK know no 201 here.
    return { status: 200, body: this.render(set, ctx) };
  }

  private availabilitySetDelete(set: Resource): Answer {
    if (this.vmsIn(set.id).length) throw E.availabilitySetInUse(set.name);
    this.forget(lower(set.id));
    return { status: 200 };
  }

  private vmsIn(setId: string): Resource[] {
    return this.list('Microsoft.Compute/virtualMachines').filter((vm) => lower(ref(vm.properties.availabilitySet) ?? '') === lower(setId));
  }

  private vmPut(ctx: Ctx, group: Resource, id: string, name: string, existing?: Resource): Answer {
    const b = ctx.body;
    const p = (b.properties ?? {}) as Props;
    const key = lower(id);
    const os = (p.osProfile ?? {}) as Props;
    if (existing && existing.properties.provisioningState === 'Failed' && !this.power.has(key)) {
      // A PUT on a VM whose create failed provisions it again, as Azure retries it.
      if (b.tags) existing.tags = { ...b.tags };
      const op = this.provision(existing, os);
      return { status: 200, body: this.render(existing, ctx), headers: this.lroHeaders(ctx, op, false) };
    }
    if (existing) {
      // An update: tags and size; the power state and the host stay as they are.
      if (b.tags) existing.tags = { ...b.tags };
      if (p.hardwareProfile?.vmSize) existing.properties.hardwareProfile = { ...existing.properties.hardwareProfile, vmSize: p.hardwareProfile.vmSize };
      existing.properties.provisioningState = 'Updating';
      const op = this.begin('Microsoft.Compute', existing.location ?? '', (o) => (existing.properties.provisioningState = o.error ? 'Failed' : 'Succeeded'), key);
      return { status: 200, body: this.render(existing, ctx), headers: this.lroHeaders(ctx, op, false) };
    }
    const location = normLocation(b.location) || group.location || '';
    if (this.opts.faults?.quotaOnVm) throw E.quotaExceeded(this.opts.subscriptionId, location);
    const size = p.hardwareProfile?.vmSize as string | undefined;
    if (!size || !SIZES.some((s) => lower(s) === lower(size))) throw E.invalidVmSize(String(size), SIZES);
    const image = (p.storageProfile?.imageReference ?? {}) as Props;
    if (!image.id) {
      const skus = IMAGES[lower(`${image.publisher}:${image.offer}`)];
      if (!skus?.includes(lower(String(image.sku)))) throw E.imageNotFound(`${image.publisher}:${image.offer}:${image.sku}:${image.version ?? 'latest'}`);
    }
    if (!os.adminUsername) throw new ArmError(400, 'InvalidParameter', "Required parameter 'adminUsername' is missing (null).", {}, 'adminUsername');
    const nics = (p.networkProfile?.networkInterfaces ?? []) as Props[];
    if (!nics.length) throw new ArmError(400, 'InvalidParameter', 'At least one network interface is required.', {}, 'networkProfile');
    for (const n of nics) {
      this.mustRef(n.id, id, 'Microsoft.Network/networkInterfaces');
      const user = this.vmOfNic(n.id);
      if (user) throw new ArmError(400, 'NicInUse', `Network Interface ${n.id} is used by existing resource ${user.id}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.`);
    }
    const setId = ref(p.availabilitySet);
    this.mustRef(setId, id, 'Microsoft.Compute/availabilitySets');

    // The managed OS disk is a resource of its own: it can outlive the VM.
    const osDisk = (p.storageProfile?.osDisk ?? {}) as Props;
    const diskName = (osDisk.name as string | undefined) ?? `${name}_OsDisk_1_${randomBytes(16).toString('hex')}`;
    const diskId = `${group.id}/providers/Microsoft.Compute/disks/${diskName}`;
    const accountType = osDisk.managedDisk?.storageAccountType ?? 'Premium_LRS';
    const version = image.version && image.version !== 'latest' ? image.version : '24.04.202601010';
    this.resources.set(lower(diskId), {
      id: diskId,
      name: diskName,
      type: 'Microsoft.Compute/disks',
      location,
      ...(b.zones ? { zones: [...b.zones] } : {}),
      managedBy: id,
      sku: { name: accountType, tier: accountType.startsWith('Premium') ? 'Premium' : 'Standard' },
      properties: {
        osType: 'Linux',
        hyperVGeneration: 'V2',
        creationData: image.id
          ? { createOption: 'FromImage', imageReference: { id: image.id } }
          : { createOption: 'FromImage', imageReference: { id: `/Subscriptions/${this.opts.subscriptionId}/Providers/Microsoft.Compute/Locations/${location}/Publishers/${image.publisher}/ArtifactTypes/VMImage/Offers/${image.offer}/Skus/${image.sku}/Versions/${version}` } },
        diskSizeGB: osDisk.diskSizeGB ?? 30,
        encryption: { type: 'EncryptionAtRestWithPlatformKey' },
        timeCreated: now(),
        provisioningState: 'Succeeded',
        uniqueId: randomUUID(),
      },
    });
    const { customData: _data, adminPassword: _secret, ...osShown } = os;
    const vm: Resource = {
      id,
      name,
      type: 'Microsoft.Compute/virtualMachines',
      location,
      ...(b.tags ? { tags: { ...b.tags } } : {}),
      ...(b.zones ? { zones: [...b.zones] } : {}),
      etag: '"1"',
      properties: {
        vmId: randomUUID(),
        ...(setId ? { availabilitySet: { id: setId } } : {}),
        hardwareProfile: { vmSize: size },
        storageProfile: {
          imageReference: { ...image, ...(image.id ? {} : { exactVersion: version }) },
          osDisk: {
            osType: 'Linux',
            name: diskName,
            createOption: osDisk.createOption ?? 'FromImage',
            caching: osDisk.caching ?? 'ReadWrite',
            managedDisk: { storageAccountType: accountType, id: diskId },
            deleteOption: osDisk.deleteOption ?? 'Detach',
            diskSizeGB: osDisk.diskSizeGB ?? 30,
          },
          dataDisks: [],
          diskControllerType: 'SCSI',
        },
        // customData and passwords are write-only: Azure never returns them.
        osProfile: {
          ...osShown,
          computerName: os.computerName ?? name,
          linuxConfiguration: { disablePasswordAuthentication: false, provisionVMAgent: true, patchSettings: { patchMode: 'ImageDefault', assessmentMode: 'ImageDefault' }, ...os.linuxConfiguration },
          secrets: [],
          allowExtensionOperations: true,
          requireGuestProvisionSignal: true,
        },
        networkProfile: { networkInterfaces: nics.map((n) => ({ id: n.id, ...(n.properties ? { properties: { ...n.properties } } : {}) })) },
        ...(p.diagnosticsProfile ? { diagnosticsProfile: p.diagnosticsProfile } : {}),
        ...(p.securityProfile ? { securityProfile: p.securityProfile } : {}),
        provisioningState: 'Creating',
        timeCreated: now(),
      },
    };
    this.resources.set(key, vm);
    for (const nicId of this.nicIds(vm)) {
      const nic = this.get(nicId)!;
      nic.properties.macAddress ??= `00-0D-3A-${randomBytes(3).toString('hex').toUpperCase().match(/../g)!.join('-')}`;
    }
    const op = this.provision(vm, os);
    return { status: 201, body: this.render(vm, ctx), headers: this.lroHeaders(ctx, op, false) };
  }

  /** Creates the VM's host: Creating and starting until the operation ends, then running (or Failed). */
  private provision(vm: Resource, os: Props): Operation {
    const key = lower(vm.id);
    vm.properties.provisioningState = 'Creating';
    this.power.set(key, 'starting');
    this.failures.delete(key);
    const fault = this.opts.faults?.failVmCreate;
    const keys = ((os.linuxConfiguration?.ssh?.publicKeys ?? []) as Props[]).map((k) => String(k.keyData));
    return this.begin(
      'Microsoft.Compute',
      vm.location ?? '',
      (o) => {
        if (!this.resources.has(key)) return;
        if (o.error) {
          vm.properties.provisioningState = 'Failed';
          this.failures.set(key, o.error);
          this.power.delete(key);
          return;
        }
        vm.properties.provisioningState = 'Succeeded';
        this.power.set(key, 'running');
        this.attachAddresses(vm, o.ip);
      },
      key,
      async () => {
        if (fault) throw new ArmError(200, fault.code, fault.message);
        const customData = os.customData as string | undefined;
        const made = await this.opts.backend?.create({ id: vm.id, name: vm.name, adminUsername: os.adminUsername, publicKeys: keys, ...(customData ? { customData } : {}) });
        if (made) this.hosts.add(key);
        return made;
      },
    );
  }

  /** A delete asked again while the first runs answers with the first's operation. */
  private deleting(ctx: Ctx, res: Resource): Answer | undefined {
    const op = this.pending.get(lower(res.id));
    if (res.properties.provisioningState !== 'Deleting' || !op) return undefined;
    if (op.provider === 'Microsoft.Resources') return { status: 202, headers: { Location: this.locationUrl(ctx, op), 'Retry-After': this.retryAfter } };
    return { status: 202, headers: this.lroHeaders(ctx, op, true) };
  }

  /** An allocated VM's addresses: the backend's host on its primary NIC and public IP. */
  private attachAddresses(vm: Resource, ip?: string): void {
    this.nicIds(vm).forEach((nicId, n) => {
      const nic = this.get(nicId);
      for (const [i, c] of ((nic?.properties.ipConfigurations ?? []) as Props[]).entries()) {
        const primary = n === 0 && i === 0;
        if (ip && primary) c.properties.privateIPAddress = ip;
        const pip = this.get(ref(c.properties.publicIPAddress) ?? '');
        if (!pip) continue;
        if (ip && primary) pip.properties.ipAddress = ip;
        else pip.properties.ipAddress ??= this.nextPublicIp();
      }
    });
  }

  /** Deallocated: Dynamic public IPs are given back (Static ones and private IPs stay). */
  private releaseDynamic(vm: Resource): void {
    for (const c of this.nicIds(vm).flatMap((id) => (this.get(id)?.properties.ipConfigurations ?? []) as Props[])) {
      const pip = this.get(ref(c.properties.publicIPAddress) ?? '');
      if (pip?.properties.publicIPAllocationMethod === 'Dynamic') delete pip.properties.ipAddress;
    }
  }

  private vmAction(ctx: Ctx, vm: Resource, action: string): Answer {
    const key = lower(vm.id);
    // A VM whose create failed has no host: its power changes are bookkeeping only.
    const backend = this.hosts.has(key) ? this.opts.backend : undefined;
    if (ctx.method === 'GET' && lower(action) === 'instanceview') return { status: 200, body: this.instanceView(vm) };
    if (ctx.method !== 'POST') throw notAllowed(ctx.method);
    const power = this.power.get(key);
    let transit: PowerState;
    let end: PowerState;
    let work: () => Promise<{ ip: string } | void>;
    let after = (_o: Operation) => {};
    switch (lower(action)) {
      case 'start':
        [transit, end] = ['starting', 'running'];
        work = async () => (power === 'running' ? undefined : backend?.start(vm.id));
        after = (o) => this.attachAddresses(vm, o.ip);
        break;
      case 'deallocate':
        [transit, end] = ['deallocating', 'deallocated'];
        work = async () => (power === 'deallocated' ? undefined : backend?.deallocate(vm.id));
        after = () => this.releaseDynamic(vm);
        break;
      case 'poweroff':
        // Powering off a deallocated VM changes nothing: it stays deallocated.
        [transit, end] = power === 'deallocated' ? ['deallocated', 'deallocated'] : ['stopping', 'stopped'];
        work = async () => (power === 'stopped' || power === 'deallocated' ? undefined : backend?.powerOff(vm.id));
        break;
      case 'restart':
        if (power !== 'running') throw E.notRunning(vm.name, power ?? 'unknown');
        [transit, end] = ['starting', 'running'];
        work = async () => backend?.restart?.(vm.id);
        break;
      default:
        throw new ArmError(400, 'InvalidResourceType', `The resource type 'virtualMachines/${action}' could not be found in the namespace 'Microsoft.Compute' for api version '${ctx.apiVersion}'.`);
    }
    this.power.set(key, transit);
    vm.properties.provisioningState = 'Updating';
    const op = this.begin(
      'Microsoft.Compute',
      vm.location ?? '',
      (o) => {
        if (!this.resources.has(key)) return;
        vm.properties.provisioningState = o.error ? 'Failed' : 'Succeeded';
        if (o.error) return void this.failures.set(key, o.error);
        this.failures.delete(key);
        this.power.set(key, end);
        after(o);
      },
      key,
      work,
    );
    return { status: 202, headers: this.lroHeaders(ctx, op, true) };
  }

  private vmDelete(ctx: Ctx, vm: Resource): Answer {
    const again = this.deleting(ctx, vm);
    if (again) return again;
    const key = lower(vm.id);
    vm.properties.provisioningState = 'Deleting';
    const op = this.begin(
      'Microsoft.Compute',
      vm.location ?? '',
      (o) => {
        if (o.error) return void (vm.properties.provisioningState = 'Failed');
        const osDisk = vm.properties.storageProfile.osDisk as Props;
        const disk = this.get(osDisk.managedDisk.id);
        // Azure's rule: the OS disk stays (detached) unless the VM said deleteOption Delete.
        if (disk && osDisk.deleteOption === 'Delete') this.forget(lower(disk.id));
        else if (disk) delete disk.managedBy;
        for (const n of vm.properties.networkProfile.networkInterfaces as Props[]) if (n.properties?.deleteOption === 'Delete') this.forget(lower(n.id));
        this.forget(key);
      },
      key,
      async () => {
        if (this.hosts.delete(key)) await this.opts.backend?.remove(vm.id);
      },
    );
    return { status: 202, headers: this.lroHeaders(ctx, op, true) };
  }

  private diskDelete(ctx: Ctx, disk: Resource): Answer {
    const again = this.deleting(ctx, disk);
    if (again) return again;
    if (disk.managedBy) throw E.diskAttached(disk.name, disk.managedBy);
    disk.properties.provisioningState = 'Deleting';
    const op = this.begin('Microsoft.Compute', disk.location ?? '', () => this.forget(lower(disk.id)), lower(disk.id));
    return { status: 202, headers: this.lroHeaders(ctx, op, true) };
  }

  private instanceView(vm: Resource): Props {
    const key = lower(vm.id);
    const power = this.power.get(key);
    const failure = this.failures.get(key);
    const state = String(vm.properties.provisioningState);
    const time = now();
    const provisioning =
      state === 'Failed' && failure
        ? { code: `ProvisioningState/failed/${failure.code}`, level: 'Error', displayStatus: 'Provisioning failed', message: failure.message, time }
        : state === 'Succeeded'
          ? { code: 'ProvisioningState/succeeded', level: 'Info', displayStatus: 'Provisioning succeeded', time }
          : { code: `ProvisioningState/${lower(state)}`, level: 'Info', displayStatus: state };
    const osDisk = vm.properties.storageProfile.osDisk as Props;
    return {
      computerName: vm.properties.osProfile.computerName,
      ...(power === 'running' ? { osName: 'ubuntu', osVersion: '24.04' } : {}),
      ...(power === 'running'
        ? { vmAgent: { vmAgentVersion: '2.13.1.1', statuses: [{ code: 'ProvisioningState/succeeded', level: 'Info', displayStatus: 'Ready', message: 'Guest Agent is running', time }], extensionHandlers: [] } }
        : {}),
      disks: [{ name: osDisk.name, statuses: [{ code: 'ProvisioningState/succeeded', level: 'Info', displayStatus: 'Provisioning succeeded', time }] }],
      hyperVGeneration: 'V2',
      statuses: [provisioning, ...(power ? [{ code: `PowerState/${power}`, level: 'Info', displayStatus: `VM ${power}` }] : [])],
    };
  }

  // ---------------------------------------------------------------- answers

  /** A resource as ARM returns it: stored fields plus the references Azure fills in. */
  private render(r: Resource, ctx: Ctx): Props {
    const out = clone(r) as Props;
    const p = out.properties as Props;
    const state = p.provisioningState;
    switch (r.type) {
      case 'Microsoft.Network/networkSecurityGroups': {
        p.securityRules = (p.securityRules as Props[]).map((rule) => ({
          name: rule.name,
          id: `${r.id}/securityRules/${rule.name}`,
          type: 'Microsoft.Network/networkSecurityGroups/securityRules',
          properties: { ...rule.properties, provisioningState: state },
        }));
        p.defaultSecurityRules = DEFAULT_RULES.map(([name, description, access, dst, direction, priority, src]) => ({
          name,
          id: `${r.id}/defaultSecurityRules/${name}`,
          type: 'Microsoft.Network/networkSecurityGroups/defaultSecurityRules',
          properties: { description, access, destinationAddressPrefix: dst, destinationPortRange: '*', direction, priority, provisioningState: state, sourceAddressPrefix: src, sourcePortRange: '*', protocol: '*' },
        }));
        const nics = this.list('Microsoft.Network/networkInterfaces').filter((n) => lower(ref(n.properties.networkSecurityGroup) ?? '') === lower(r.id));
        const subnets = this.list('Microsoft.Network/virtualNetworks/subnets').filter((s) => lower(ref(s.properties.networkSecurityGroup) ?? '') === lower(r.id));
        if (nics.length) p.networkInterfaces = nics.map((n) => ({ id: n.id }));
        if (subnets.length) p.subnets = subnets.map((s) => ({ id: s.id }));
        break;
      }
      case 'Microsoft.Network/virtualNetworks':
        p.subnets = this.subnetsOf(r.id).map((s) => this.render(s, ctx));
        p.virtualNetworkPeerings ??= [];
        p.enableDdosProtection ??= false;
        break;
      case 'Microsoft.Network/virtualNetworks/subnets': {
        const users = this.nicConfigs().filter((c) => c.subnet && lower(c.subnet) === lower(r.id));
        if (users.length) p.ipConfigurations = users.map((c) => ({ id: c.id }));
        break;
      }
      case 'Microsoft.Network/publicIPAddresses': {
        const user = this.nicConfigs().find((c) => c.publicIp && lower(c.publicIp) === lower(r.id));
        if (user) p.ipConfiguration = { id: user.id };
        break;
      }
      case 'Microsoft.Network/networkInterfaces': {
        p.ipConfigurations = (p.ipConfigurations as Props[]).map((c) => ({
          name: c.name,
          id: `${r.id}/ipConfigurations/${c.name}`,
          type: 'Microsoft.Network/networkInterfaces/ipConfigurations',
          properties: { ...c.properties, provisioningState: state, privateIPAddressVersion: 'IPv4' },
        }));
        const vm = this.vmOfNic(r.id);
        if (vm) Object.assign(p, { virtualMachine: { id: vm.id }, primary: lower(this.nicIds(vm)[0] ?? '') === lower(r.id) });
        p.vnetEncryptionSupported ??= false;
        break;
      }
      case 'Microsoft.Compute/availabilitySets':
        p.virtualMachines = this.vmsIn(r.id).map((vm) => ({ id: vm.id }));
        break;
      case 'Microsoft.Compute/disks': {
        const vm = r.managedBy ? this.get(r.managedBy) : undefined;
        const power = vm ? this.power.get(lower(vm.id)) : undefined;
        p.diskState = !vm ? 'Unattached' : power === 'deallocated' ? 'Reserved' : 'Attached';
        break;
      }
      case 'Microsoft.Compute/virtualMachines':
        if (lower(ctx.url.searchParams.get('$expand') ?? '') === 'instanceview') p.instanceView = this.instanceView(r);
        break;
    }
    return out;
  }
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function notAllowed(method: string): ArmError {
  return new ArmError(405, 'MethodNotAllowed', `The requested resource does not support http method '${method}'.`);
}

/** What a path names, with ARM's case-insensitive segments. */
function parse(rest: string[]): Target {
  const low = rest.map(lower);
  if (!rest.length) return { kind: 'subscription' };
  if (low[0] === 'operationresults' && rest.length === 2) return { kind: 'rgResult', opId: rest[1]! };
  if (low[0] === 'resourcegroups') {
    if (rest.length === 1) return { kind: 'groups' };
    if (rest.length === 2) return { kind: 'group', rg: rest[1]! };
    if (rest.length === 3 && low[2] === 'resources') return { kind: 'groupResources', rg: rest[1]! };
    if (low[2] === 'providers' && rest.length >= 5) return provider(rest.slice(3), rest[1]);
  }
  if (low[0] === 'providers') {
    if (rest.length === 6 && low[2] === 'locations' && (low[4] === 'operations' || low[4] === 'operationresults')) {
      return { kind: 'operation', opId: rest[5]!, result: low[4] === 'operationresults' };
    }
    if (rest.length >= 3) return provider(rest.slice(1), undefined);
  }
  throw new ArmError(404, 'NotFound', `The requested path '/${rest.join('/')}' was not found.`);
}

/** `Namespace/type/name[/type/name]...` with an optional trailing collection or action. */
function provider(p: string[], rg: string | undefined): Target {
  const [ns, ...segs] = p;
  const kinds = segs.filter((_, i) => i % 2 === 0);
  const names = segs.filter((_, i) => i % 2 === 1);
  const type = [ns, ...kinds].join('/');
  if (kinds.length === names.length) return { kind: 'resource', ...(rg !== undefined ? { rg } : {}), type, names };
  if (TYPES.has(lower(type))) return { kind: 'collection', ...(rg !== undefined ? { rg } : {}), type, names };
  const action = kinds.pop()!;
  return { kind: 'resource', ...(rg !== undefined ? { rg } : {}), type: [ns, ...kinds].join('/'), names, action };
}

/** The name a pause hook sees: "PUT virtualMachines", "POST virtualMachines/start", "GET operations". */
function opName(method: string, t: Target): string {
  switch (t.kind) {
    case 'subscription':
      return `${method} subscriptions`;
    case 'groups':
    case 'group':
    case 'groupResources':
      return `${method} resourceGroups`;
    case 'rgResult':
      return `${method} operationResults`;
    case 'operation':
      return `${method} ${t.result ? 'operationResults' : 'operations'}`;
    case 'collection':
    case 'resource': {
      const type = TYPES.get(lower(t.type)) ?? t.type;
      const last = type.split('/').pop()!;
      return `${method} ${last}${t.kind === 'resource' && t.action ? `/${t.action}` : ''}`;
    }
  }
}
