import { ComputeManagementClient, type VirtualMachine } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { TokenCredential } from '@azure/core-auth';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'node:https';
import { afterEach, describe, expect, it } from 'vitest';
import { ArmEndpoint, type ArmEndpointOptions, type Call, type VmBackend } from '../azure/server.js';

// The local ARM endpoint the azure driver's tests will use, checked through the real SDK
// clients: if the SDKs cannot read an answer, or poll an operation to its end, the driver's
// tests would only test our mistakes.

const SUB = '00000000-1111-2222-3333-444444444444';
const TOKEN = 'test-token';
const LOC = 'westeurope';
// Pollers wait the server's Retry-After between polls; with Retry-After 0 they use this.
const FAST = { updateIntervalInMs: 10 };
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHt0ZXN0a2V5 machine';

let endpoint: ArmEndpoint | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
});

const credential = (token = TOKEN): TokenCredential => ({ getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }) });

/** The three clients as the driver makes them, trusting the endpoint's CA in-process. */
async function start(more: Partial<ArmEndpointOptions> = {}, token = TOKEN) {
  endpoint = new ArmEndpoint({ token: TOKEN, subscriptionId: SUB, retryAfter: 0, ...more });
  const url = await endpoint.listen();
  const common = { endpoint: url, tlsOptions: { ca: endpoint.caPem } };
  return {
    url,
    resources: new ResourceManagementClient(credential(token), SUB, common),
    network: new NetworkManagementClient(credential(token), SUB, common),
    compute: new ComputeManagementClient(credential(token), SUB, common),
  };
}
type Clients = Awaited<ReturnType<typeof start>>;

/** A backend whose hosts get a new address at every start, as containers would. */
function fakeBackend() {
  const log: string[] = [];
  let n = 1;
  const created: Array<Parameters<VmBackend['create']>[0]> = [];
  const backend: VmBackend = {
    create: async (vm) => (created.push(vm), log.push(`create ${vm.name}`), { ip: `172.18.0.${++n}` }),
    deallocate: async (id) => void log.push(`deallocate ${id.split('/').pop()}`),
    start: async (id) => (log.push(`start ${id.split('/').pop()}`), { ip: `172.18.0.${++n}` }),
    restart: async (id) => void log.push(`restart ${id.split('/').pop()}`),
    powerOff: async (id) => void log.push(`powerOff ${id.split('/').pop()}`),
    remove: async (id) => void log.push(`remove ${id.split('/').pop()}`),
  };
  return { backend, log, created };
}

/** The RestError an SDK call rejects with (its code, status and message). */
async function failure(p: Promise<unknown>): Promise<{ code?: string; statusCode?: number; message: string; response?: { headers: { get(n: string): string | undefined } } }> {
  try {
    await p;
  } catch (err) {
    return err as never;
  }
  throw new Error('expected the call to fail');
}

const rgPath = `/subscriptions/${SUB}/resourceGroups/rg`;
const fixtures = join(import.meta.dirname, '..', '..', 'drivers-test-fixtures', 'azure');
const net = `${rgPath}/providers/Microsoft.Network`;

/** Group, NSG with rules, VNet, subnet, public IP and NIC: what the driver makes before a VM. */
async function network(c: Clients, name: string, ip: { static?: boolean } = {}) {
  await c.resources.resourceGroups.createOrUpdate('rg', { location: LOC, tags: { machine: 'test' } });
  await c.network.networkSecurityGroups.beginCreateOrUpdateAndWait(
    'rg',
    'machine-nsg',
    {
      location: LOC,
      securityRules: [
        { name: 'SSHAllowAny', protocol: 'Tcp', access: 'Allow', direction: 'Inbound', priority: 300, sourceAddressPrefix: '*', sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRange: '22' },
        { name: 'DockerAllowAny', protocol: 'Tcp', access: 'Allow', direction: 'Inbound', priority: 301, sourceAddressPrefix: '*', sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRange: '2376' },
      ],
    },
    FAST,
  );
  await c.network.virtualNetworks.beginCreateOrUpdateAndWait('rg', 'machine-vnet', { location: LOC, addressSpace: { addressPrefixes: ['192.168.0.0/16'] } }, FAST);
  await c.network.subnets.beginCreateOrUpdateAndWait('rg', 'machine-vnet', 'machine-subnet', { addressPrefix: '192.168.0.0/24', networkSecurityGroup: { id: `${net}/networkSecurityGroups/machine-nsg` } }, FAST);
  const pip = await c.network.publicIPAddresses.beginCreateOrUpdateAndWait(
    'rg',
    `${name}-ip`,
    ip.static ? { location: LOC, sku: { name: 'Standard' }, publicIPAllocationMethod: 'Static' } : { location: LOC, publicIPAllocationMethod: 'Dynamic' },
    FAST,
  );
  const nic = await c.network.networkInterfaces.beginCreateOrUpdateAndWait(
    'rg',
    `${name}-nic`,
    {
      location: LOC,
      networkSecurityGroup: { id: `${net}/networkSecurityGroups/machine-nsg` },
      ipConfigurations: [{ name: 'ip', subnet: { id: `${net}/virtualNetworks/machine-vnet/subnets/machine-subnet` }, publicIPAddress: { id: pip.id! } }],
    },
    FAST,
  );
  return { pip, nic };
}

function vmBody(nicId: string, more: Partial<VirtualMachine> = {}): VirtualMachine {
  return {
    location: LOC,
    hardwareProfile: { vmSize: 'Standard_D2s_v5' },
    storageProfile: {
      imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
      osDisk: { createOption: 'FromImage', managedDisk: { storageAccountType: 'Standard_LRS' } },
    },
    osProfile: {
      computerName: 'vm1',
      adminUsername: 'docker-user',
      customData: Buffer.from('#cloud-config\n').toString('base64'),
      linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: [{ path: '/home/docker-user/.ssh/authorized_keys', keyData: KEY }] } },
    },
    networkProfile: { networkInterfaces: [{ id: nicId }] },
    ...more,
  };
}

const statuses = async (c: Clients, vm: string) => (await c.compute.virtualMachines.instanceView('rg', vm)).statuses?.map((s) => `${s.code}|${s.displayStatus}`);

/** A request without the SDK, to see the protocol itself (headers, statuses). */
async function raw(method: string, url: string, body?: unknown): Promise<{ status: number; headers: Record<string, string>; body: unknown }> {
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request(url, { method, ca: endpoint!.caPem, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' } }, resolve);
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return { status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body: text ? JSON.parse(text) : undefined };
}

describe('ArmEndpoint through the Azure SDKs', () => {
  it('serves a VM life cycle: network, create, deallocate, start, power off, restart, delete', async () => {
    const { backend, log, created } = fakeBackend();
    const c = await start({ backend });

    // A group: 201 made, 200 when it is there; HEAD answers whether it is.
    await c.resources.resourceGroups.createOrUpdate('rg', { location: 'West Europe' });
    const group = await c.resources.resourceGroups.createOrUpdate('rg', { location: LOC, tags: { a: 'b' } });
    expect(group).toMatchObject({ id: rgPath, name: 'rg', location: LOC, tags: { a: 'b' }, properties: { provisioningState: 'Succeeded' } });
    expect(endpoint!.calls.filter((x) => x.method === 'PUT').map((x) => x.status)).toEqual([201, 200]);
    expect((await c.resources.resourceGroups.checkExistence('rg')).body).toBe(true);
    expect((await c.resources.resourceGroups.checkExistence('nope')).body).toBe(false);

    const { pip, nic } = await network(c, 'vm1');
    const nsg = await c.network.networkSecurityGroups.get('rg', 'machine-nsg');
    expect(nsg.securityRules?.map((r) => [r.name, r.destinationPortRange, r.provisioningState])).toEqual([
      ['SSHAllowAny', '22', 'Succeeded'],
      ['DockerAllowAny', '2376', 'Succeeded'],
    ]);
    expect(nsg.defaultSecurityRules).toHaveLength(6);
    expect(pip).toMatchObject({ publicIPAllocationMethod: 'Dynamic', sku: { name: 'Basic' }, provisioningState: 'Succeeded' });
    expect(pip.ipAddress).toBeUndefined();
    expect(nic.ipConfigurations?.[0]).toMatchObject({ privateIPAddress: '192.168.0.4', privateIPAllocationMethod: 'Dynamic', primary: true });
    // Each network write went through Azure-AsyncOperation polling to Succeeded.
    expect(endpoint!.calls.filter((x) => x.path.includes('/providers/Microsoft.Network/locations/')).length).toBeGreaterThanOrEqual(10);

    const vm = await c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm1', vmBody(nic.id!), FAST);
    expect(vm).toMatchObject({ name: 'vm1', provisioningState: 'Succeeded', hardwareProfile: { vmSize: 'Standard_D2s_v5' } });
    expect(vm.osProfile?.customData).toBeUndefined();
    const vmId = vm.id!;
    expect(created).toEqual([{ id: vmId, name: 'vm1', adminUsername: 'docker-user', publicKeys: [KEY], customData: Buffer.from('#cloud-config\n').toString('base64') }]);
    expect(await statuses(c, 'vm1')).toEqual(['ProvisioningState/succeeded|Provisioning succeeded', 'PowerState/running|VM running']);
    const expanded = await c.compute.virtualMachines.get('rg', 'vm1', { expand: 'instanceView' });
    expect(expanded.instanceView?.statuses?.[1]?.code).toBe('PowerState/running');

    // The backend's host shows on the NIC and on the (Dynamic) public IP while the VM runs.
    expect((await c.network.publicIPAddresses.get('rg', 'vm1-ip')).ipAddress).toBe('172.18.0.2');
    const attached = await c.network.networkInterfaces.get('rg', 'vm1-nic');
    expect(attached.ipConfigurations?.[0]?.privateIPAddress).toBe('172.18.0.2');
    expect(attached.virtualMachine?.id).toBe(vmId);
    const diskName = vm.storageProfile?.osDisk?.name ?? '';
    expect(diskName).toMatch(/^vm1_OsDisk_1_[0-9a-f]{32}$/);
    expect(await c.compute.disks.get('rg', diskName)).toMatchObject({ managedBy: vmId, diskState: 'Attached', osType: 'Linux' });

    // Deallocating: "…ing" while the operation runs, then deallocated and the Dynamic IP gone.
    const dealloc = await c.compute.virtualMachines.beginDeallocate('rg', 'vm1', FAST);
    expect(endpoint!.powerState(vmId)).toBe('deallocating');
    expect(await statuses(c, 'vm1')).toEqual(['ProvisioningState/updating|Updating', 'PowerState/deallocating|VM deallocating']);
    await dealloc.pollUntilDone();
    expect(await statuses(c, 'vm1')).toEqual(['ProvisioningState/succeeded|Provisioning succeeded', 'PowerState/deallocated|VM deallocated']);
    expect((await c.network.publicIPAddresses.get('rg', 'vm1-ip')).ipAddress).toBeUndefined();
    expect((await c.compute.disks.get('rg', diskName)).diskState).toBe('Reserved');

    // Started again: a new host address, on the public IP and the NIC.
    await c.compute.virtualMachines.beginStartAndWait('rg', 'vm1', FAST);
    expect((await c.network.publicIPAddresses.get('rg', 'vm1-ip')).ipAddress).toBe('172.18.0.3');
    expect((await c.network.networkInterfaces.get('rg', 'vm1-nic')).ipConfigurations?.[0]?.privateIPAddress).toBe('172.18.0.3');

    // Powered off (stopped, still allocated): the Dynamic address stays.
    await c.compute.virtualMachines.beginPowerOffAndWait('rg', 'vm1', { ...FAST, skipShutdown: true });
    expect((await statuses(c, 'vm1'))?.[1]).toBe('PowerState/stopped|VM stopped');
    expect((await c.network.publicIPAddresses.get('rg', 'vm1-ip')).ipAddress).toBe('172.18.0.3');
    expect(endpoint!.calls.find((x) => x.path.endsWith('/powerOff'))).toMatchObject({ method: 'POST', status: 202 });

    // Restart needs a running VM, as on Azure.
    expect(await failure(c.compute.virtualMachines.beginRestartAndWait('rg', 'vm1', FAST))).toMatchObject({ statusCode: 409, code: 'OperationNotAllowed' });
    await c.compute.virtualMachines.beginStartAndWait('rg', 'vm1', FAST);
    await c.compute.virtualMachines.beginRestartAndWait('rg', 'vm1', FAST);
    expect((await statuses(c, 'vm1'))?.[1]).toBe('PowerState/running|VM running');

    // What is in use cannot be deleted.
    const refused = async (p: Promise<unknown>) => {
      const e = await failure(p);
      return [e.statusCode, e.code];
    };
    expect(await refused(c.network.networkInterfaces.beginDeleteAndWait('rg', 'vm1-nic', FAST))).toEqual([400, 'NicInUse']);
    expect(await refused(c.network.publicIPAddresses.beginDeleteAndWait('rg', 'vm1-ip', FAST))).toEqual([400, 'PublicIPAddressCannotBeDeleted']);
    expect(await refused(c.network.subnets.beginDeleteAndWait('rg', 'machine-vnet', 'machine-subnet', FAST))).toEqual([400, 'InUseSubnetCannotBeDeleted']);
    expect(await refused(c.network.virtualNetworks.beginDeleteAndWait('rg', 'machine-vnet', FAST))).toEqual([400, 'InUseSubnetCannotBeDeleted']);
    expect(await refused(c.network.networkSecurityGroups.beginDeleteAndWait('rg', 'machine-nsg', FAST))).toEqual([400, 'InUseNetworkSecurityGroupCannotBeDeleted']);
    expect(await refused(c.compute.disks.beginDeleteAndWait('rg', diskName, FAST))).toEqual([409, 'OperationNotAllowed']);
    const nsgError = await failure(c.network.networkSecurityGroups.beginDeleteAndWait('rg', 'machine-nsg', FAST));
    expect(nsgError.message).toContain(`${net}/networkInterfaces/vm1-nic`);
    expect(nsgError.message).toContain(`${net}/virtualNetworks/machine-vnet/subnets/machine-subnet`);

    // Deleting the VM leaves its OS disk (deleteOption Detach) and its NIC.
    await c.compute.virtualMachines.beginDeleteAndWait('rg', 'vm1', FAST);
    expect((await failure(c.compute.virtualMachines.get('rg', 'vm1'))).code).toBe('ResourceNotFound');
    expect(await c.compute.disks.get('rg', diskName)).toMatchObject({ diskState: 'Unattached' });
    expect((await c.compute.disks.get('rg', diskName)).managedBy).toBeUndefined();
    expect((await c.network.networkInterfaces.get('rg', 'vm1-nic')).virtualMachine).toBeUndefined();

    // Now the chain comes apart in order; deleting what is gone answers 204.
    await c.network.networkInterfaces.beginDeleteAndWait('rg', 'vm1-nic', FAST);
    await c.network.publicIPAddresses.beginDeleteAndWait('rg', 'vm1-ip', FAST);
    await c.network.subnets.beginDeleteAndWait('rg', 'machine-vnet', 'machine-subnet', FAST);
    await c.network.virtualNetworks.beginDeleteAndWait('rg', 'machine-vnet', FAST);
    await c.network.networkSecurityGroups.beginDeleteAndWait('rg', 'machine-nsg', FAST);
    await c.compute.disks.beginDeleteAndWait('rg', diskName, FAST);
    await c.network.networkSecurityGroups.beginDeleteAndWait('rg', 'machine-nsg', FAST);
    expect(endpoint!.calls.at(-1)).toMatchObject({ method: 'DELETE', status: 204 });
    expect(endpoint!.list('Microsoft.Network/networkInterfaces')).toEqual([]);
    expect(log).toEqual(['create vm1', 'deallocate vm1', 'start vm1', 'powerOff vm1', 'start vm1', 'restart vm1', 'remove vm1']);

    // The group's delete is ARM's own long-running operation (202 + Location).
    await c.resources.resourceGroups.beginDeleteAndWait('rg', FAST);
    expect((await c.resources.resourceGroups.checkExistence('rg')).body).toBe(false);
    expect(endpoint!.resources.size).toBe(0);

    // The api-versions the SDKs sent: the spec versions the fixtures come from.
    const versions = (re: RegExp) => [...new Set(endpoint!.calls.filter((x) => re.test(x.path)).map((x) => x.apiVersion))];
    const seen = {
      resources: versions(/\/resourceGroups\/rg$|operationresults/i),
      network: versions(/Microsoft\.Network/),
      virtualMachines: versions(/virtualMachines/),
      disks: versions(/\/disks\//),
    };
    console.log('api-versions sent by the SDKs:', seen);
    expect(seen).toEqual({ resources: ['2025-04-01'], network: ['2025-05-01'], virtualMachines: ['2026-03-01'], disks: ['2025-01-02'] });
  });

  it('deletes the OS disk with the VM when deleteOption is Delete, and a deleting group takes its VMs', async () => {
    const { backend, log } = fakeBackend();
    const c = await start({ backend });
    const { nic } = await network(c, 'vm2', { static: true });
    const pipBefore = await c.network.publicIPAddresses.get('rg', 'vm2-ip');
    expect(pipBefore).toMatchObject({ publicIPAllocationMethod: 'Static', sku: { name: 'Standard' }, ipAddress: '20.0.0.4' });
    const vm = await c.compute.virtualMachines.beginCreateOrUpdateAndWait(
      'rg',
      'vm2',
      vmBody(nic.id!, {
        zones: ['1'],
        storageProfile: {
          imageReference: { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
          osDisk: { name: 'vm2-os', createOption: 'FromImage', deleteOption: 'Delete', managedDisk: { storageAccountType: 'Premium_LRS' } },
        },
      }),
      FAST,
    );
    expect(vm.zones).toEqual(['1']);
    // A Static IP keeps its address over a deallocation (here: the backend's host's).
    await c.compute.virtualMachines.beginDeallocateAndWait('rg', 'vm2', FAST);
    expect((await c.network.publicIPAddresses.get('rg', 'vm2-ip')).ipAddress).toBe('172.18.0.2');
    expect((await c.compute.virtualMachines.list('rg').next()).value).toMatchObject({ name: 'vm2' });
    await c.compute.virtualMachines.beginDeleteAndWait('rg', 'vm2', FAST);
    expect((await failure(c.compute.disks.get('rg', 'vm2-os'))).code).toBe('ResourceNotFound');

    // A group delete removes what is in it, the backend's hosts included.
    const again = await c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm3', vmBody(nic.id!), FAST);
    await c.resources.resourceGroups.beginDeleteAndWait('rg', FAST);
    expect(log.at(-1)).toBe('remove vm3');
    expect(endpoint!.get(again.id!)).toBeUndefined();
    expect(endpoint!.resources.size).toBe(0);
  });

  it('gives pool addresses without a backend, and Static ones from creation', async () => {
    const c = await start();
    const { nic } = await network(c, 'vm1');
    await c.network.publicIPAddresses.beginCreateOrUpdateAndWait('rg', 'fixed', { location: LOC, sku: { name: 'Standard' }, publicIPAllocationMethod: 'Static' }, FAST);
    expect((await c.network.publicIPAddresses.get('rg', 'fixed')).ipAddress).toBe('20.0.0.4');
    await c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm1', vmBody(nic.id!), FAST);
    expect((await c.network.publicIPAddresses.get('rg', 'vm1-ip')).ipAddress).toBe('20.0.0.5');
    expect((await c.network.networkInterfaces.get('rg', 'vm1-nic')).ipConfigurations?.[0]?.privateIPAddress).toBe('192.168.0.4');
    // Standard SKU with Dynamic allocation is refused, as Azure does.
    const e = await failure(c.network.publicIPAddresses.beginCreateOrUpdateAndWait('rg', 'bad', { location: LOC, sku: { name: 'Standard' }, publicIPAllocationMethod: 'Dynamic' }, FAST));
    expect([e.statusCode, e.code]).toEqual([400, 'StandardAndStandardV2SkuPublicIPAddressesMustBeStatic']);
  });

  it('keeps availability sets, refusing to delete one with VMs; lists per group', async () => {
    const c = await start();
    const { nic } = await network(c, 'vm1');
    const set = await c.compute.availabilitySets.createOrUpdate('rg', 'avset', { location: LOC, platformFaultDomainCount: 2, platformUpdateDomainCount: 5, sku: { name: 'Aligned' } });
    expect(set).toMatchObject({ name: 'avset', type: 'Microsoft.Compute/availabilitySets', platformFaultDomainCount: 2, platformUpdateDomainCount: 5, sku: { name: 'Aligned' } });
    const vm = await c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm1', vmBody(nic.id!, { availabilitySet: { id: set.id! } }), FAST);
    expect(vm.availabilitySet?.id).toBe(set.id);
    expect((await c.compute.availabilitySets.get('rg', 'avset')).virtualMachines?.map((v) => v.id)).toEqual([vm.id]);
    const e = await failure(c.compute.availabilitySets.delete('rg', 'avset'));
    expect([e.statusCode, e.code]).toEqual([409, 'OperationNotAllowed']);

    const names = async (it: AsyncIterable<{ name?: string }>) => {
      const out: string[] = [];
      for await (const x of it) out.push(x.name ?? '');
      return out;
    };
    expect(await names(c.network.networkInterfaces.list('rg'))).toEqual(['vm1-nic']);
    expect(await names(c.network.subnets.list('rg', 'machine-vnet'))).toEqual(['machine-subnet']);
    expect(await names(c.network.publicIPAddresses.list('rg'))).toEqual(['vm1-ip']);
    expect(await names(c.compute.virtualMachines.list('rg'))).toEqual(['vm1']);
    expect(await names(c.compute.virtualMachines.listAll())).toEqual(['vm1']);
    expect(await names(c.resources.resourceGroups.list())).toEqual(['rg']);
    expect((await c.network.virtualNetworks.get('rg', 'machine-vnet')).subnets?.map((x) => x.name)).toEqual(['machine-subnet']);

    await c.compute.virtualMachines.beginDeleteAndWait('rg', 'vm1', FAST);
    await c.compute.availabilitySets.delete('rg', 'avset');
    expect(endpoint!.list('Microsoft.Compute/availabilitySets')).toEqual([]);
  });

  it('answers Location URLs 202 while running, then 200 (compute) or 204 (network); a repeated delete gets the same operation', async () => {
    const c = await start({ backend: fakeBackend().backend });
    const { nic } = await network(c, 'vm1');
    await c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm1', vmBody(nic.id!), FAST);
    const post = await raw('POST', `${c.url}${rgPath}/providers/Microsoft.Compute/virtualMachines/vm1/deallocate?api-version=2026-03-01`);
    expect(post.status).toBe(202);
    const { location, 'azure-asyncoperation': status } = post.headers;
    expect(location).toMatch(/\/providers\/Microsoft\.Compute\/locations\/westeurope\/operations\/[0-9a-f-]{36}\?monitor=true&api-version=2026-03-01$/);
    const first = await raw('GET', location!);
    expect([first.status, first.headers['retry-after']]).toEqual([202, '0']);
    expect((await raw('GET', status!)).body).toMatchObject({ status: 'Succeeded', name: expect.any(String), startTime: expect.any(String), endTime: expect.any(String) });
    expect((await raw('GET', location!)).status).toBe(200);
    expect(endpoint!.powerState(`${rgPath}/providers/Microsoft.Compute/virtualMachines/vm1`)).toBe('deallocated');

    await c.network.publicIPAddresses.beginCreateOrUpdateAndWait('rg', 'spare', { location: LOC }, FAST);
    const url = `${c.url}${net}/publicIPAddresses/spare?api-version=2025-05-01`;
    const del = await raw('DELETE', url);
    expect(del.status).toBe(202);
    expect(del.headers.location).toContain('/providers/Microsoft.Network/locations/westeurope/operationResults/');
    const again = await raw('DELETE', url);
    expect([again.status, again.headers['azure-asyncoperation']]).toEqual([202, del.headers['azure-asyncoperation']]);
    expect((await raw('GET', del.headers.location!)).status).toBe(202);
    expect((await raw('GET', del.headers.location!)).status).toBe(204);
    expect((await raw('DELETE', url)).status).toBe(204);
    expect((await raw('GET', `${c.url}${rgPath}?api-version=2025-04-01`)).body).toEqual({ id: rgPath, name: 'rg', type: 'Microsoft.Resources/resourceGroups', location: LOC, tags: { machine: 'test' }, properties: { provisioningState: 'Succeeded' } });
    expect((await raw('GET', `${c.url}${rgPath}`)).body).toMatchObject({ error: { code: 'MissingApiVersionParameter' } });

    // The group's delete: ARM's Location (202, then 200), and the group is gone.
    await c.compute.virtualMachines.beginDeleteAndWait('rg', 'vm1', FAST);
    const rgDel = await raw('DELETE', `${c.url}${rgPath}?api-version=2025-04-01`);
    expect(rgDel.status).toBe(202);
    expect(rgDel.headers.location).toMatch(new RegExp(`/subscriptions/${SUB}/operationresults/[0-9a-f-]{36}\\?api-version=2025-04-01$`));
    expect((await raw('GET', rgDel.headers.location!)).status).toBe(202);
    expect((await raw('GET', rgDel.headers.location!)).status).toBe(200);
    expect((await raw('HEAD', `${c.url}${rgPath}?api-version=2025-04-01`)).status).toBe(404);
  });

  it('provisions a VM again when a PUT follows a failed create', async () => {
    const { backend, log } = fakeBackend();
    const failing = { code: 'AllocationFailed', message: 'Allocation failed. We do not have sufficient capacity for the requested VM size in this region.' };
    const faults: { failVmCreate?: typeof failing } = { failVmCreate: failing };
    const c = await start({ backend, faults });
    const { nic } = await network(c, 'vm1');
    expect((await failure(c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm1', vmBody(nic.id!), FAST))).message).toContain('AllocationFailed');
    delete faults.failVmCreate;
    const vm = await c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm1', vmBody(nic.id!), FAST);
    expect(vm.provisioningState).toBe('Succeeded');
    expect(log).toEqual(['create vm1']);
    expect((await statuses(c, 'vm1'))?.[1]).toBe('PowerState/running|VM running');
  });

  it('answers InProgress lroPolls times before the end state, with Retry-After', async () => {
    const c = await start({ lroPolls: 3, retryAfter: 0 });
    await c.resources.resourceGroups.createOrUpdate('rg', { location: LOC });
    const poller = await c.network.networkSecurityGroups.beginCreateOrUpdate('rg', 'nsg', { location: LOC }, FAST);
    expect(endpoint!.get(`${net}/networkSecurityGroups/nsg`)?.properties.provisioningState).toBe('Updating');
    await poller.pollUntilDone();
    const polls = endpoint!.calls.filter((x) => x.path.includes('/operations/'));
    expect(polls.map((x) => x.status)).toEqual([200, 200, 200, 200]);
    expect(endpoint!.get(`${net}/networkSecurityGroups/nsg`)?.properties.provisioningState).toBe('Succeeded');
  });

  it('waits Retry-After (1 s by default) between polls', async () => {
    // The SDKs poll twice at once (in begin… and at the start of pollUntilDone): with two
    // InProgress answers the third poll comes after the Retry-After of the second.
    const c = await start({ retryAfter: undefined, lroPolls: 2 });
    await c.resources.resourceGroups.createOrUpdate('rg', { location: LOC });
    const t0 = Date.now();
    await c.network.networkSecurityGroups.beginCreateOrUpdateAndWait('rg', 'nsg', { location: LOC });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(Date.now() - t0).toBeLessThan(1900);
  });

  it('throttles the first requests with 429 and Retry-After: 1; the SDK retries', async () => {
    const c = await start({ faults: { throttleFirst: 2 } });
    const group = await c.resources.resourceGroups.createOrUpdate('rg', { location: LOC });
    expect(group.name).toBe('rg');
    expect(endpoint!.calls.map((x: Call) => x.status)).toEqual([429, 429, 201]);
  });

  it('answers 500 and 503 to the first requests; the SDK retries', async () => {
    const c = await start({ faults: { transientFirst: 2 } });
    await c.resources.resourceGroups.createOrUpdate('rg', { location: LOC });
    expect(endpoint!.calls.map((x) => x.status)).toEqual([500, 503, 201]);
  });

  it('refuses a VM over quota at once, with Azure code and message, making nothing', async () => {
    const c = await start({ faults: { quotaOnVm: true } });
    const { nic } = await network(c, 'vm1');
    const e = await failure(c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm1', vmBody(nic.id!), FAST));
    expect([e.statusCode, e.code]).toEqual([409, 'OperationNotAllowed']);
    expect(e.message).toContain('Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota.');
    expect(endpoint!.list('Microsoft.Compute/virtualMachines')).toEqual([]);
    expect(endpoint!.list('Microsoft.Compute/disks')).toEqual([]);
  });

  it('ends a failing VM create Failed: the poller rejects with the code, the VM stays Failed', async () => {
    const { backend, log } = fakeBackend();
    const c = await start({ backend, faults: { failVmCreate: { code: 'OSProvisioningTimedOut', message: 'OS Provisioning for VM did not finish in the allotted time.' } } });
    const { nic } = await network(c, 'vm1');
    const e = await failure(c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm1', vmBody(nic.id!), FAST));
    expect(e.message).toContain('OSProvisioningTimedOut');
    expect(e.message).toContain('OS Provisioning for VM did not finish');
    expect((await c.compute.virtualMachines.get('rg', 'vm1')).provisioningState).toBe('Failed');
    expect((await statuses(c, 'vm1'))?.[0]).toBe('ProvisioningState/failed/OSProvisioningTimedOut|Provisioning failed');
    expect(log).toEqual([]);
    // The failed VM can be deleted; its OS disk stays behind, as Azure leaves it.
    await c.compute.virtualMachines.beginDeleteAndWait('rg', 'vm1', FAST);
    expect(endpoint!.list('Microsoft.Compute/disks')).toHaveLength(1);
  });

  it('answers a wrong token with 401 InvalidAuthenticationToken and a bearer challenge', async () => {
    const c = await start({}, 'stolen-token');
    const e = await failure(c.resources.resourceGroups.get('rg'));
    expect([e.statusCode, e.code]).toEqual([401, 'InvalidAuthenticationToken']);
    expect(e.response?.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const vm = await failure(c.compute.virtualMachines.get('rg', 'vm1'));
    expect([vm.statusCode, vm.code]).toEqual([401, 'InvalidAuthenticationToken']);
  });

  it("answers what is not there with ARM's 404 codes", async () => {
    const c = await start();
    expect((await failure(c.resources.resourceGroups.get('nope'))).code).toBe('ResourceGroupNotFound');
    expect((await failure(c.compute.virtualMachines.get('nope', 'vm1'))).code).toBe('ResourceGroupNotFound');
    await c.resources.resourceGroups.createOrUpdate('rg', { location: LOC });
    const vm = await failure(c.compute.virtualMachines.get('rg', 'vm1'));
    expect([vm.statusCode, vm.code, vm.message]).toEqual([
      404,
      'ResourceNotFound',
      "The Resource 'Microsoft.Compute/virtualMachines/vm1' under resource group 'rg' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    ]);
    expect((await failure(c.network.subnets.get('rg', 'vnet', 'sub'))).code).toBe('ResourceNotFound');
    await c.network.virtualNetworks.beginCreateOrUpdateAndWait('rg', 'vnet', { location: LOC, addressSpace: { addressPrefixes: ['10.0.0.0/16'] } }, FAST);
    expect((await failure(c.network.subnets.get('rg', 'vnet', 'sub'))).code).toBe('NotFound');
    expect((await failure(c.network.networkInterfaces.get('rg', 'nic'))).code).toBe('ResourceNotFound');
    // Paths are case-insensitive; ids keep the casing they were made with.
    expect((await c.resources.resourceGroups.get('RG')).id).toBe(rgPath);
    const other = new ResourceManagementClient(credential(), 'ffffffff-0000-0000-0000-000000000000', { endpoint: c.url, tlsOptions: { ca: endpoint!.caPem } });
    expect((await failure(other.resourceGroups.get('rg'))).code).toBe('SubscriptionNotFound');
  });

  it('refuses unknown VM sizes and images as Azure does', async () => {
    const c = await start();
    const { nic } = await network(c, 'vm1');
    const size = await failure(c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm1', vmBody(nic.id!, { hardwareProfile: { vmSize: 'Standard_Nope' } }), FAST));
    expect([size.statusCode, size.code]).toEqual([400, 'InvalidParameter']);
    expect(size.message).toContain('The value Standard_Nope provided for the VM size is not valid.');
    const image = await failure(
      c.compute.virtualMachines.beginCreateOrUpdateAndWait(
        'rg',
        'vm1',
        vmBody(nic.id!, { storageProfile: { imageReference: { publisher: 'Canonical', offer: 'UbuntuServer', sku: '22_04-lts', version: 'latest' }, osDisk: { createOption: 'FromImage' } } }),
        FAST,
      ),
    );
    expect([image.statusCode, image.code]).toEqual([404, 'PlatformImageNotFound']);
    expect(image.message).toContain("The platform image 'Canonical:UbuntuServer:22_04-lts:latest' is not available.");
  });

  it('pauses before and after each request, naming the operation', async () => {
    const seen: string[] = [];
    const c = await start({ pause: (op, phase) => void seen.push(`${phase} ${op}`) });
    await c.resources.resourceGroups.createOrUpdate('rg', { location: LOC });
    const { nic } = await network(c, 'vm1');
    seen.length = 0;
    await c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm1', vmBody(nic.id!), FAST);
    await c.compute.virtualMachines.beginDeallocateAndWait('rg', 'vm1', FAST);
    expect(seen.slice(0, 2)).toEqual(['before PUT virtualMachines', 'after PUT virtualMachines']);
    expect(seen).toContain('before GET operations');
    expect(seen).toContain('before POST virtualMachines/deallocate');
  });

  it('answers with the fields the spec examples in drivers-test-fixtures/azure show', async () => {
    const c = await start({ backend: fakeBackend().backend });
    const { nic } = await network(c, 'vm1');
    await c.network.virtualNetworks.beginCreateOrUpdateAndWait('rg', 'other', { location: LOC, addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, flowTimeoutInMinutes: 10 }, FAST);
    const vm = await c.compute.virtualMachines.beginCreateOrUpdateAndWait('rg', 'vm1', vmBody(nic.id!, { storageProfile: { ...vmBody('').storageProfile, osDisk: { name: 'os', createOption: 'FromImage', caching: 'ReadWrite' } } }), FAST);
    const wire = async (path: string, version: string) => (await raw('GET', `${c.url}${path}?api-version=${version}`)).body as Record<string, unknown>;
    const example = (file: string, status = '200') => {
      const doc = JSON.parse(readFileSync(join(fixtures, file), 'utf8')) as { responses: Record<string, { body: Record<string, unknown> }> };
      return doc.responses[status]!.body;
    };
    /** Keys the example has and our answer lacks, at the top and in `properties` (beyond what we do not serve). */
    const missing = (ex: Record<string, unknown>, ours: Record<string, unknown>, notServed: string[] = []) => {
      const props = (o: Record<string, unknown>) => Object.keys((o.properties ?? {}) as object).map((k) => `properties.${k}`);
      const have = new Set([...Object.keys(ours), ...props(ours)]);
      return [...Object.keys(ex), ...props(ex)].filter((k) => !have.has(k) && !notServed.includes(k));
    };
    const nicBody = await wire(`${net}/networkInterfaces/vm1-nic`, '2025-05-01');
    expect(missing(example('network-2025-05-01/NetworkInterfaceGet.json'), nicBody, ['properties.disableTcpStateTracking', 'properties.dscpConfiguration'])).toEqual([]);
    const config = (nicBody.properties as { ipConfigurations: Array<Record<string, unknown>> }).ipConfigurations[0]!;
    const exConfig = (example('network-2025-05-01/NetworkInterfaceGet.json').properties as { ipConfigurations: Array<Record<string, unknown>> }).ipConfigurations[0]!;
    expect(missing(exConfig, config)).toEqual([]);
    expect(missing(example('network-2025-05-01/PublicIpAddressCreateDefaults.json', '201'), await wire(`${net}/publicIPAddresses/vm1-ip`, '2025-05-01'))).toEqual([]);
    const nsgBody = await wire(`${net}/networkSecurityGroups/machine-nsg`, '2025-05-01');
    const exNsg = example('network-2025-05-01/NetworkSecurityGroupCreateWithRule.json', '201');
    expect(missing(exNsg, nsgBody)).toEqual([]);
    const rule = (b: Record<string, unknown>, list: string) => (b.properties as Record<string, Array<Record<string, unknown>>>)[list]![0]!;
    expect(missing(rule(exNsg, 'securityRules'), rule(nsgBody, 'securityRules'))).toEqual([]);
    expect(missing(rule(exNsg, 'defaultSecurityRules'), rule(nsgBody, 'defaultSecurityRules'))).toEqual([]);
    expect(missing(example('network-2025-05-01/VirtualNetworkCreate.json', '201'), await wire(`${net}/virtualNetworks/other`, '2025-05-01'))).toEqual([]);
    expect(missing(example('network-2025-05-01/SubnetCreate.json', '201'), await wire(`${net}/virtualNetworks/machine-vnet/subnets/machine-subnet`, '2025-05-01'))).toEqual([]);
    expect(missing(example('resources-2025-04-01/CreateResourceGroup.json', '201'), await wire(rgPath, '2025-04-01'))).toEqual([]);
    const vmBodyOnWire = await wire(`${rgPath}/providers/Microsoft.Compute/virtualMachines/vm1`, '2026-03-01');
    const exVm = example('compute-2026-03-01/VirtualMachine_Create_WithSshAuthentication.json', '201');
    expect(missing(exVm, vmBodyOnWire, ['properties.securityProfile'])).toEqual([]);
    const sub = (b: Record<string, unknown>, path: string) => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], b) as Record<string, unknown>;
    for (const part of ['properties.osProfile', 'properties.storageProfile', 'properties.storageProfile.osDisk']) {
      expect(Object.keys(sub(exVm, part)).filter((k) => !(k in sub(vmBodyOnWire, part)))).toEqual([]);
    }
    const view = await wire(`${rgPath}/providers/Microsoft.Compute/virtualMachines/vm1/instanceView`, '2026-03-01');
    const exView = example('compute-2026-03-01/VirtualMachine_Get_InstanceView.json');
    const notInView = ['platformUpdateDomain', 'platformFaultDomain', 'bootDiagnostics', 'extensions', 'patchStatus', 'isVMInStandbyPool'];
    expect(Object.keys(exView).filter((k) => !(k in view) && !notInView.includes(k))).toEqual([]);
    const diskBody = await wire(`${rgPath}/providers/Microsoft.Compute/disks/${vm.storageProfile?.osDisk?.name}`, '2025-01-02');
    const notInDisk = ['tags', 'properties.purchasePlan', 'properties.supportedCapabilities', 'properties.supportsHibernation', 'properties.securityProfile', 'properties.encryptionSettingsCollection', 'properties.LastOwnershipUpdateTime'];
    expect(missing(example('disk-2025-01-02/Disk_Get.json'), diskBody, notInDisk)).toEqual([]);
    const set = await c.compute.availabilitySets.createOrUpdate('rg', 'set', { location: LOC });
    expect(missing(example('compute-2026-03-01/AvailabilitySet_Create.json'), await wire(set.id!, '2026-03-01'), ['properties.virtualMachineScaleSetMigrationInfo'])).toEqual([]);
  });

  it('writes the CA to a file for NODE_EXTRA_CA_CERTS, and removes it on close', async () => {
    const { url } = await start();
    const file = endpoint!.caFile;
    // A separate Node process (as the CLI under test is) trusts the endpoint through the file.
    const script = `require('https').get(process.argv[1], { headers: { Authorization: 'Bearer ${TOKEN}' } }, (r) => { console.log(r.statusCode); r.resume(); }).on('error', (e) => { console.log(e.code); });`;
    const child = await promisify(execFile)(process.execPath, ['-e', script, `${url}/subscriptions/${SUB}?api-version=2025-04-01`], { env: { ...process.env, NODE_EXTRA_CA_CERTS: file } });
    expect(child.stdout.trim()).toBe('200');
    const untrusted = await promisify(execFile)(process.execPath, ['-e', script, `${url}/subscriptions/${SUB}?api-version=2025-04-01`], { env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } });
    expect(untrusted.stdout.trim()).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(readFileSync(file, 'utf8')).toBe(endpoint!.caPem);
    await endpoint!.close();
    endpoint = undefined;
    expect(existsSync(file)).toBe(false);
  });
});
