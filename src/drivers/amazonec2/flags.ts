import { randomUUID } from 'node:crypto';
import { UsageError } from '../../errors.js';
import { machineFiles } from '../../store/machine-files.js';
import { flagBool, flagInt, flagList, flagSpecFor, flagString } from '../base.js';
import type { FlagSpec, FlagValues } from '../driver.js';
import { bool, defaultsOf, int, settingsSchema, str, strList, type SettingsOf } from '../settings.js';

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
  /** Docker Machine's spot block length; AWS stopped offering blocks to new accounts in 2021. */
  BlockDurationMinutes: int(0),
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
  /**
   * Tagged on everything create makes (instance, key pair, groups) and used as the launch's
   * client token: rm finds what a crash kept out of the record, and a repeated launch never
   * makes a second instance. Written to the record before the first call that makes anything.
   */
  CreateId: str(),
  // Docker Machine wrote keys from AWS_ACCESS_KEY_ID & co. here. Its stores' machines keep
  // working with them; machine itself never writes them (they stay empty for its machines).
  AccessKey: str(),
  SecretKey: str(),
  SessionToken: str(),
});
export type Ec2Settings = SettingsOf<typeof Ec2SettingsSchema>;
export const D = defaultsOf(Ec2SettingsSchema);

const f = flagSpecFor('amazonec2');

export const ec2Flags: FlagSpec[] = [
  // No environment fallback here: the SDK's own chain reads AWS_ACCESS_KEY_ID & co. every
  // time, so nothing from the environment is ever written to the store.
  f('access-key', 'string', 'AWS access key (default: the SDK chain: environment, profiles, SSO, instance role)'),
  f('secret-key', 'string', 'AWS secret key'),
  f('session-token', 'string', 'AWS session token'),
  f('region', 'string', 'Region', D.Region, 'AWS_DEFAULT_REGION'),
  f('zone', 'string', 'Availability zone letter', D.Zone, 'AWS_ZONE'),
  f('ami', 'string', 'AMI (default: the newest official Ubuntu 24.04 of the region)', undefined, 'AWS_AMI'),
  f('instance-type', 'string', 'Instance type', D.InstanceType, 'AWS_INSTANCE_TYPE'),
  f('vpc-id', 'string', "VPC (default: the subnet's, else the default VPC)", undefined, 'AWS_VPC_ID'),
  f('subnet-id', 'string', "Subnet (default: the VPC's default subnet of the zone)", undefined, 'AWS_SUBNET_ID'),
  f('security-group', 'stringArray', 'Security group name (repeatable; default docker-machine)', undefined, 'AWS_SECURITY_GROUP'),
  f('security-group-readonly', 'bool', 'Use the security groups as they are: never create or change them', undefined, 'AWS_SECURITY_GROUP_READONLY'),
  f('open-port', 'stringArray', 'Extra port to open: PORT or PORT/udp (repeatable)'),
  f('tags', 'string', 'Extra tags: key1,value1,key2,value2', undefined, 'AWS_TAGS'),
  f('root-size', 'int', 'Root disk size in GB', D.RootSize, 'AWS_ROOT_SIZE'),
  f('volume-type', 'string', 'Root volume type', D.VolumeType, 'AWS_VOLUME_TYPE'),
  f('device-name', 'string', 'Root device name', D.DeviceName, 'AWS_DEVICE_NAME'),
  f('iam-instance-profile', 'string', 'IAM instance profile', undefined, 'AWS_INSTANCE_PROFILE'),
  f('keypair-name', 'string', 'Existing key pair (with --amazonec2-ssh-keypath)', undefined, 'AWS_KEYPAIR_NAME'),
  f('ssh-keypath', 'string', 'Your private key: its public half is imported (or it belongs to --amazonec2-keypair-name); never written to', undefined, 'AWS_SSH_KEYPATH'),
  f('ssh-user', 'string', 'SSH user', D.SSHUser, 'AWS_SSH_USER'),
  f('ssh-port', 'int', 'SSH port', D.SSHPort, 'AWS_SSH_PORT'),
  f('request-spot-instance', 'bool', 'Request a spot instance'),
  f('spot-price', 'string', 'Maximum spot price (default: the on-demand price)'),
  f('block-duration-minutes', 'int', 'Spot block duration: 60, 120, 180, 240, 300 or 360', D.BlockDurationMinutes),
  f('private-address-only', 'bool', 'No public address; the security group opens only to the VPC'),
  f('use-private-address', 'bool', 'Reach the machine at its private address'),
  f('monitoring', 'bool', 'Enable CloudWatch detailed monitoring'),
  f('use-ebs-optimized-instance', 'bool', 'Create an EBS-optimized instance'),
  f('userdata', 'string', 'File with user data for the instance', undefined, 'AWS_USERDATA'),
  f('retries', 'int', 'Retries for throttled API calls', D.RetryCount),
  f('endpoint', 'string', 'EC2 API endpoint: a URL or HOST:PORT (for other clouds or a local endpoint)', undefined, 'AWS_ENDPOINT'),
  f('insecure-transport', 'bool', 'Allow an http:// endpoint', undefined, 'AWS_INSECURE_TRANSPORT'),
];

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

// us-east-1, eu-central-2, us-gov-west-1, cn-north-1, us-isob-east-1: a pattern rather than
// Docker Machine's fixed list, which missed every region opened since.
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** PORT or PORT/tcp or PORT/udp, as Docker Machine's --amazonec2-open-port takes them. */
export function parseOpenPort(spec: string): { port: number; proto: 'tcp' | 'udp' } {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(spec.trim());
  const port = m ? Number(m[1]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new UsageError(`--amazonec2-open-port "${spec}" is not a port: give PORT, PORT/tcp or PORT/udp with PORT from 1 to 65535`);
  }
  return { port, proto: (m[2]?.toLowerCase() ?? 'tcp') as 'tcp' | 'udp' };
}

/** The flags' part of the settings, every check that needs no API done before anything is made. */
export function parseEc2Flags(flags: FlagValues, machineDir: string): Partial<Ec2Settings> {
  const keyPath = flagString(flags['amazonec2-ssh-keypath']);
  const keyName = flagString(flags['amazonec2-keypair-name']);
  const groups = flagList(flags['amazonec2-security-group']);
  const endpoint = endpointUrl(flagString(flags['amazonec2-endpoint']), flagBool(flags['amazonec2-insecure-transport']));
  const disableSsl = flagBool(flags['amazonec2-insecure-transport']);
  const region = flagString(flags['amazonec2-region'], D.Region) || D.Region;
  // Other clouds speaking EC2 name their regions as they like (Docker Machine's rule too).
  if (!endpoint && !REGION.test(region)) {
    throw new UsageError(`Invalid region specified: "${region}" is not an AWS region name like us-east-1: check --amazonec2-region or AWS_DEFAULT_REGION`);
  }
  let zone = (flagString(flags['amazonec2-zone'], D.Zone) || D.Zone).toLowerCase();
  // "us-east-1b" for "b" is a common slip: take the letter when the region matches.
  if (zone.length === region.length + 1 && zone.startsWith(region)) zone = zone.slice(-1);
  if (!/^[a-z]$/.test(zone)) throw new UsageError(`--amazonec2-zone takes the zone's letter (a, b, c...), not "${zone}"`);
  const openPorts = flagList(flags['amazonec2-open-port']);
  openPorts.forEach(parseOpenPort);
  const tags = flagString(flags['amazonec2-tags']);
  if (tags && tags.split(',').length % 2) throw new UsageError('--amazonec2-tags takes key1,value1,key2,value2');
  const spot = flagBool(flags['amazonec2-request-spot-instance']);
  const block = flagInt(flags['amazonec2-block-duration-minutes'], D.BlockDurationMinutes);
  if (block && (block % 60 || block < 60 || block > 360)) throw new UsageError(`--amazonec2-block-duration-minutes takes 60, 120, 180, 240, 300 or 360, not ${block}`);
  if (block && !spot) throw new UsageError('--amazonec2-block-duration-minutes needs --amazonec2-request-spot-instance');
  // Docker Machine's messages, word for word: scripts match them.
  if (disableSsl && !endpoint) throw new UsageError('using --amazonec2-insecure-transport also requires --amazonec2-endpoint');
  if (keyName && !keyPath) throw new UsageError('using --amazonec2-keypair-name also requires --amazonec2-ssh-keypath');
  if (endpoint.startsWith('http://') && !disableSsl && !/^http:\/\/(127\.|localhost|\[::1\])/.test(endpoint)) {
    throw new UsageError('--amazonec2-endpoint over http:// needs --amazonec2-insecure-transport');
  }
  if (flags['amazonec2-access-key'] && !flags['amazonec2-secret-key']) throw new UsageError('--amazonec2-access-key needs --amazonec2-secret-key');
  const files = machineFiles(machineDir);
  const privateOnly = flagBool(flags['amazonec2-private-address-only']);
  return {
    Region: region,
    Zone: zone,
    AMI: flagString(flags['amazonec2-ami']),
    InstanceType: flagString(flags['amazonec2-instance-type'], D.InstanceType) || D.InstanceType,
    VpcId: flagString(flags['amazonec2-vpc-id']),
    SubnetId: flagString(flags['amazonec2-subnet-id']),
    SecurityGroupNames: groups.length ? groups : D.SecurityGroupNames,
    SecurityGroupReadOnly: flagBool(flags['amazonec2-security-group-readonly']),
    OpenPorts: openPorts,
    Tags: tags,
    RootSize: flagInt(flags['amazonec2-root-size'], D.RootSize),
    VolumeType: flagString(flags['amazonec2-volume-type'], D.VolumeType) || D.VolumeType,
    DeviceName: flagString(flags['amazonec2-device-name'], D.DeviceName) || D.DeviceName,
    IamInstanceProfile: flagString(flags['amazonec2-iam-instance-profile']),
    KeyName: keyName,
    ExistingKey: keyName !== '',
    // With a key pair of the user's, their key is used where it is; otherwise the machine's
    // folder holds the key (a copy of the user's, or one made for the machine).
    SSHKeyPath: keyName ? keyPath : keyPath ? files.userKeyCopy : files.sshKey,
    SSHPrivateKeyPath: keyPath,
    SSHUser: flagString(flags['amazonec2-ssh-user'], D.SSHUser) || D.SSHUser,
    SSHPort: flagInt(flags['amazonec2-ssh-port'], D.SSHPort),
    RequestSpotInstance: spot,
    SpotPrice: flagString(flags['amazonec2-spot-price']),
    BlockDurationMinutes: block,
    PrivateIPOnly: privateOnly,
    UsePrivateIP: flagBool(flags['amazonec2-use-private-address']) || privateOnly,
    Monitoring: flagBool(flags['amazonec2-monitoring']),
    UseEbsOptimizedInstance: flagBool(flags['amazonec2-use-ebs-optimized-instance']),
    UserDataFile: flagString(flags['amazonec2-userdata']),
    RetryCount: flagInt(flags['amazonec2-retries'], D.RetryCount),
    Endpoint: endpoint,
    DisableSSL: disableSsl,
    CreateId: randomUUID(),
  };
}
