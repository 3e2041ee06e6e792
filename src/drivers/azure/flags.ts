import { randomUUID } from 'node:crypto';
import { UsageError } from '../../errors.js';
import { DEFAULT_ENGINE_PORT } from '../../engine/port.js';
import { parseCidr } from '../../net/ipv4.js';
import { machineFiles } from '../../store/machine-files.js';
import { flagBool, flagInt, flagList, flagSpecFor, flagString } from '../base.js';
import type { FlagSpec, FlagValues } from '../driver.js';
import { bool, defaultsOf, int, settingsSchema, str, strList, type SettingsOf } from '../settings.js';

/**
 * What config.json keeps of an azure machine, under Docker Machine's field names. Never a
 * secret: a client secret comes from the flag at create and from AZURE_CLIENT_SECRET after.
 */
export const AzureSettingsSchema = settingsSchema({
  SSHUser: str('docker-user'),
  Environment: str('AzurePublicCloud'),
  /** Azure Stack Hub (and the tests' local endpoint): an ARM endpoint of its own. */
  ResourceManagerEndpoint: str(),
  SubscriptionID: str(),
  TenantID: str(),
  ClientID: str(),
  ResourceGroup: str('docker-machine'),
  DockerPort: int(DEFAULT_ENGINE_PORT),
  Location: str('westus'),
  // Docker Machine's Standard_A2 and Ubuntu 16.04 are long gone: a current general-purpose
  // size and the current Ubuntu LTS.
  Size: str('Standard_D2s_v5'),
  Image: str('Canonical:ubuntu-24_04-lts:server:latest'),
  VirtualNetwork: str('docker-machine-vnet'),
  SubnetName: str('docker-machine'),
  SubnetPrefix: str('192.168.0.0/16'),
  AvailabilitySet: str(),
  AvailabilityZone: str(),
  NetworkSecurityGroup: str('docker-machine-firewall'),
  CustomDataFile: str(),
  PrivateIPAddr: str(),
  StorageType: str('StandardSSD_LRS'),
  DiskSize: int(30),
  UsePrivateIP: bool(),
  NoPublicIP: bool(),
  StaticPublicIP: bool(),
  DNSLabel: str(),
  OpenPorts: strList(),
  /** key1=value1,key2=value2 */
  Tags: str(),
  PrivateIPAddress: str(),
  /** Tagged on what create makes; rm deletes a machine's resources only when they carry it. */
  CreateId: str(),
  // Docker Machine kept the service principal's secret here; it is read from an old store
  // but never written.
  ClientSecret: str(),
});
export type AzureSettings = SettingsOf<typeof AzureSettingsSchema>;
export const D = defaultsOf(AzureSettingsSchema);

/** Clouds Docker Machine knew, with today's endpoints. Germany's closed in 2021. */
export const CLOUDS: Record<string, { arm: string; authority: string }> = {
  AzurePublicCloud: { arm: 'https://management.azure.com', authority: 'https://login.microsoftonline.com' },
  AzureChinaCloud: { arm: 'https://management.chinacloudapi.cn', authority: 'https://login.chinacloudapi.cn' },
  AzureUSGovernmentCloud: { arm: 'https://management.usgovcloudapi.net', authority: 'https://login.microsoftonline.us' },
};

const f = flagSpecFor('azure');

export const azureFlags: FlagSpec[] = [
  f('environment', 'string', 'Azure environment: AzurePublicCloud, AzureChinaCloud, AzureUSGovernmentCloud', D.Environment, 'AZURE_ENVIRONMENT'),
  f('resource-manager-endpoint', 'string', 'ARM endpoint of an Azure Stack Hub (https://...)', undefined, 'AZURE_RESOURCE_MANAGER_ENDPOINT'),
  { ...f('subscription-id', 'string', 'Azure subscription ID (required)', undefined, 'AZURE_SUBSCRIPTION_ID'), required: true },
  f('tenant-id', 'string', 'Tenant of the service principal (with --azure-client-id)', undefined, 'AZURE_TENANT_ID'),
  f('client-id', 'string', 'Service principal ID (default: DefaultAzureCredential: environment, workload identity, managed identity, Azure CLI login)', undefined, 'AZURE_CLIENT_ID'),
  f('client-secret', 'string', 'Service principal secret (never stored: later commands read AZURE_CLIENT_SECRET)', undefined, 'AZURE_CLIENT_SECRET'),
  f('resource-group', 'string', 'Resource group (made when missing)', D.ResourceGroup, 'AZURE_RESOURCE_GROUP'),
  f('ssh-user', 'string', 'SSH user', D.SSHUser, 'AZURE_SSH_USER'),
  f('docker-port', 'int', 'Docker engine port', D.DockerPort, 'AZURE_DOCKER_PORT'),
  f('location', 'string', 'Azure region', D.Location, 'AZURE_LOCATION'),
  f('size', 'string', 'VM size', D.Size, 'AZURE_SIZE'),
  f('image', 'string', 'Image as publisher:offer:sku:version', D.Image, 'AZURE_IMAGE'),
  f('vnet', 'string', 'Virtual network, as [resourcegroup:]name', D.VirtualNetwork, 'AZURE_VNET'),
  f('subnet', 'string', 'Subnet of the virtual network', D.SubnetName, 'AZURE_SUBNET'),
  f('subnet-prefix', 'string', 'Address range of a new subnet (RFC 1918)', D.SubnetPrefix, 'AZURE_SUBNET_PREFIX'),
  f('availability-set', 'string', 'Availability set to place the VM in (made when missing)', undefined, 'AZURE_AVAILABILITY_SET'),
  f('availability-zone', 'string', 'Availability zone (1, 2 or 3)', undefined, 'AZURE_AVAILABILITY_ZONE'),
  f('nsg', 'string', 'Network security group shared by the machines (made when missing)', D.NetworkSecurityGroup, 'AZURE_NSG'),
  f('custom-data', 'string', 'File with custom data (cloud-init)', undefined, 'AZURE_CUSTOM_DATA_FILE'),
  f('private-ip-address', 'string', 'Static private IP address of the machine'),
  f('storage-type', 'string', 'Managed OS disk type: Standard_LRS, StandardSSD_LRS, Premium_LRS...', D.StorageType, 'AZURE_STORAGE_TYPE'),
  f('disk-size', 'int', 'OS disk size in GB', D.DiskSize, 'AZURE_DISK_SIZE'),
  f('use-private-ip', 'bool', 'Reach the machine at its private address'),
  f('no-public-ip', 'bool', 'Make no public IP address (implies --azure-use-private-ip)'),
  f('static-public-ip', 'bool', 'Static public IP (every Standard public IP is: accepted for Docker Machine scripts)'),
  f('dns', 'string', 'DNS label of the public IP address', undefined, 'AZURE_DNS_LABEL'),
  f('open-port', 'stringArray', 'Extra port to open: PORT or PORT/udp (repeatable)'),
  f('tags', 'string', 'Extra tags: key1=value1,key2=value2', undefined, 'AZURE_TAGS'),
];

export function parseAzurePort(spec: string): { port: number; proto: 'Tcp' | 'Udp' } {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(spec.trim());
  const port = m ? Number(m[1]) : NaN;
  if (!m || port < 1 || port > 65535) throw new UsageError(`--azure-open-port "${spec}" is not a port: give PORT, PORT/tcp or PORT/udp with PORT from 1 to 65535`);
  return { port, proto: m[2]?.toLowerCase() === 'udp' ? 'Udp' : 'Tcp' };
}

export function parseAzureTags(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of raw.split(',').filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i < 1) throw new UsageError(`--azure-tags takes key1=value1,key2=value2, not "${pair}"`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

/** The flags' part of the settings, every check that needs no API done before anything is made. */
export function parseAzureFlags(flags: FlagValues, machineDir: string): { settings: Partial<AzureSettings>; clientSecret: string } {
  const s = (name: string, def = '') => flagString(flags[`azure-${name}`], def) || def;
  const subscription = s('subscription-id');
  // Docker Machine's line, word for word.
  if (!subscription) throw new UsageError('azure driver requires the --azure-subscription-id option');
  const environment = s('environment', D.Environment);
  const armEndpoint = s('resource-manager-endpoint').replace(/\/+$/, '');
  if (armEndpoint) {
    if (!/^https:\/\//.test(armEndpoint)) throw new UsageError('--azure-resource-manager-endpoint must be an https:// URL: Azure sends its tokens over TLS only');
  } else if (!CLOUDS[environment]) {
    throw new UsageError(`--azure-environment "${environment}" is not one of ${Object.keys(CLOUDS).join(', ')} (AzureGermanCloud closed in 2021)`);
  }
  const image = s('image', D.Image);
  if (image.split(':').length !== 4 || image.split(':').some((p) => !p)) throw new UsageError(`--azure-image "${image}" is not publisher:offer:sku:version`);
  const prefix = s('subnet-prefix', D.SubnetPrefix);
  if (!parseCidr(prefix)) throw new UsageError(`--azure-subnet-prefix "${prefix}" is not an IPv4 range like 192.168.0.0/16`);
  const openPorts = flagList(flags['azure-open-port']);
  openPorts.forEach(parseAzurePort);
  const tags = s('tags');
  parseAzureTags(tags);
  const zone = s('availability-zone');
  if (zone && !/^[1-3]$/.test(zone)) throw new UsageError(`--azure-availability-zone takes 1, 2 or 3, not "${zone}"`);
  if (zone && s('availability-set')) throw new UsageError('--azure-availability-zone and --azure-availability-set exclude each other: Azure places a VM in one or the other');
  const clientId = s('client-id');
  const clientSecret = s('client-secret');
  const tenant = s('tenant-id');
  if (clientSecret && !clientId) throw new UsageError('--azure-client-secret needs --azure-client-id');
  if (clientId && clientSecret && !tenant) throw new UsageError('--azure-client-id needs --azure-tenant-id (AZURE_TENANT_ID): the tenant the service principal belongs to');
  const dockerPort = flagInt(flags['azure-docker-port'], D.DockerPort);
  if (dockerPort < 1 || dockerPort > 65535) throw new UsageError(`--azure-docker-port takes a port from 1 to 65535, not ${dockerPort}`);
  const noPublicIp = flagBool(flags['azure-no-public-ip']);
  return {
    clientSecret,
    settings: {
      SubscriptionID: subscription,
      Environment: environment,
      ResourceManagerEndpoint: armEndpoint,
      TenantID: tenant,
      ClientID: clientId,
      ResourceGroup: s('resource-group', D.ResourceGroup),
      SSHUser: s('ssh-user', D.SSHUser),
      SSHPort: 22,
      SSHKeyPath: machineFiles(machineDir).sshKey,
      DockerPort: dockerPort,
      Location: s('location', D.Location),
      Size: s('size', D.Size),
      Image: image,
      VirtualNetwork: s('vnet', D.VirtualNetwork),
      SubnetName: s('subnet', D.SubnetName),
      SubnetPrefix: prefix,
      AvailabilitySet: s('availability-set'),
      AvailabilityZone: zone,
      NetworkSecurityGroup: s('nsg', D.NetworkSecurityGroup),
      CustomDataFile: s('custom-data'),
      PrivateIPAddr: s('private-ip-address'),
      StorageType: s('storage-type', D.StorageType),
      DiskSize: flagInt(flags['azure-disk-size'], D.DiskSize),
      UsePrivateIP: flagBool(flags['azure-use-private-ip']) || noPublicIp,
      NoPublicIP: noPublicIp,
      StaticPublicIP: flagBool(flags['azure-static-public-ip']),
      DNSLabel: s('dns'),
      OpenPorts: openPorts,
      Tags: tags,
      CreateId: randomUUID(),
    },
  };
}
