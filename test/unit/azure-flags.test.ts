import { describe, expect, it } from 'vitest';
import { AzureSettingsSchema, parseAzureFlags } from '../../src/drivers/azure/flags.js';
import { loadDriver } from '../../src/drivers/registry.js';

// #13: the azure driver's flags, checked before anything is made.
const SUB = '00000000-1111-2222-3333-444444444444';
const parse = (flags: Record<string, unknown>) => parseAzureFlags({ 'azure-subscription-id': SUB, ...flags } as never, '/tmp/m');

describe('azure flags', () => {
  it("has Docker Machine's flags and environment variables, with today's defaults", async () => {
    const mod = await loadDriver('azure');
    const byName = new Map(mod.flags.map((f) => [f.name, f]));
    for (const [flag, env] of [
      ['azure-environment', 'AZURE_ENVIRONMENT'], ['azure-subscription-id', 'AZURE_SUBSCRIPTION_ID'], ['azure-resource-group', 'AZURE_RESOURCE_GROUP'],
      ['azure-ssh-user', 'AZURE_SSH_USER'], ['azure-docker-port', 'AZURE_DOCKER_PORT'], ['azure-location', 'AZURE_LOCATION'], ['azure-size', 'AZURE_SIZE'],
      ['azure-image', 'AZURE_IMAGE'], ['azure-vnet', 'AZURE_VNET'], ['azure-subnet', 'AZURE_SUBNET'], ['azure-subnet-prefix', 'AZURE_SUBNET_PREFIX'],
      ['azure-availability-set', 'AZURE_AVAILABILITY_SET'], ['azure-custom-data', 'AZURE_CUSTOM_DATA_FILE'], ['azure-storage-type', 'AZURE_STORAGE_TYPE'],
      ['azure-dns', 'AZURE_DNS_LABEL'], ['azure-client-id', 'AZURE_CLIENT_ID'], ['azure-client-secret', 'AZURE_CLIENT_SECRET'],
    ] as const) {
      expect(byName.get(flag)?.env, flag).toBe(env);
    }
    for (const flag of ['azure-private-ip-address', 'azure-use-private-ip', 'azure-no-public-ip', 'azure-static-public-ip', 'azure-open-port', 'azure-tenant-id', 'azure-disk-size', 'azure-tags', 'azure-availability-zone', 'azure-nsg']) {
      expect(byName.has(flag), flag).toBe(true);
    }
    const s = parse({}).settings;
    expect(s).toMatchObject({ ResourceGroup: 'docker-machine', SSHUser: 'docker-user', DockerPort: 2376, Location: 'westus', VirtualNetwork: 'docker-machine-vnet' });
    // Not Docker Machine's Ubuntu 16.04 on Standard_A2, both long gone.
    expect(s.Image).toBe('Canonical:ubuntu-24_04-lts:server:latest');
    expect(s.Size).toBe('Standard_D2s_v5');
  });

  it("says Docker Machine's line without a subscription, and checks the rest before anything is made", () => {
    expect(() => parseAzureFlags({} as never, '/tmp/m')).toThrow(/^azure driver requires the --azure-subscription-id option$/);
    expect(() => parse({ 'azure-image': 'canonical:UbuntuServer:16.04' })).toThrow(/is not publisher:offer:sku:version/);
    expect(() => parse({ 'azure-subnet-prefix': '192.168.0.0/33' })).toThrow(/--azure-subnet-prefix/);
    expect(() => parse({ 'azure-open-port': ['ssh'] })).toThrow(/--azure-open-port "ssh" is not a port/);
    expect(() => parse({ 'azure-environment': 'AzureGermanCloud' })).toThrow(/closed in 2021/);
    expect(() => parse({ 'azure-availability-zone': '4' })).toThrow(/1, 2 or 3/);
    expect(() => parse({ 'azure-availability-zone': '1', 'azure-availability-set': 'as' })).toThrow(/exclude each other/);
    expect(() => parse({ 'azure-client-id': 'app', 'azure-client-secret': 's' })).toThrow(/--azure-tenant-id/);
    expect(() => parse({ 'azure-tags': 'a=b,c' })).toThrow(/key1=value1/);
    expect(() => parse({ 'azure-resource-manager-endpoint': 'http://127.0.0.1:1' })).toThrow(/https:\/\//);
    expect(parse({ 'azure-no-public-ip': true }).settings.UsePrivateIP).toBe(true);
  });

  it('never keeps the client secret in the settings, and drops the one a Docker Machine store kept', async () => {
    const { settings, clientSecret } = parse({ 'azure-client-id': 'app', 'azure-client-secret': 'sp-secret', 'azure-tenant-id': 't' });
    expect(clientSecret).toBe('sp-secret');
    expect(JSON.stringify(settings)).not.toContain('sp-secret');
    const mod = await loadDriver('azure');
    const saved = mod.readSettings({ MachineName: 'old', SubscriptionID: SUB, ClientID: 'app', ClientSecret: 'dm-kept-this' });
    const driver = mod.newDriver({ machineName: 'old', storePath: '/tmp', machineDir: '/tmp/old', log: { info() {}, debug() {}, warn() {} } as never, lock: (_k, fn) => fn() }, saved);
    expect(JSON.stringify(driver.config())).not.toContain('dm-kept-this');
    expect(AzureSettingsSchema.entries.ClientSecret).toBeDefined();
  });
});
