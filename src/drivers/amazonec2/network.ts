import type { IpPermission, SecurityGroup } from '@aws-sdk/client-ec2';
import { DriverError, UsageError } from '../../errors.js';
import type { Ec2Api } from './api.js';
import { parseOpenPort, type Ec2Settings } from './flags.js';

/** Where the instance goes, resolved and checked before anything is made. */
export interface Placement {
  vpcId: string;
  /** The VPC's range: a private-only machine's group opens to it alone. */
  vpcCidr: string;
  subnetId: string;
}

/**
 * Docker Machine's checks, against the API: a subnet named alone gives its VPC; a subnet and a
 * VPC that do not belong together are refused; without a subnet, the VPC's subnet of the
 * zone (its default one first) is taken.
 */
export async function resolvePlacement(api: Ec2Api, cfg: Ec2Settings): Promise<Placement> {
  let vpcId = cfg.VpcId;
  let subnetId = cfg.SubnetId;
  const az = `${cfg.Region}${cfg.Zone}`;
  if (subnetId) {
    const out = await api.call('DescribeSubnets', (m, c, o) => c.send(new m.DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: [subnetId] }] }), o));
    const subnet = out.Subnets?.[0];
    if (!subnet) throw new UsageError(`The desired subnet could not be located in this region. Is '--amazonec2-subnet-id' or AWS_SUBNET_ID configured correctly?`);
    if (vpcId && subnet.VpcId !== vpcId) throw new UsageError(`SubnetId: ${subnetId} does not belong to VpcId: ${vpcId}`);
    vpcId = subnet.VpcId!;
  } else {
    if (!vpcId) {
      const vpcs = await api.call('DescribeVpcs', (m, c, o) => c.send(new m.DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }), o));
      vpcId = vpcs.Vpcs?.[0]?.VpcId ?? '';
      if (!vpcId) {
        throw new UsageError('amazonec2 driver requires either the --amazonec2-subnet-id or --amazonec2-vpc-id option or an AWS Account with a default vpc-id');
      }
    }
    const out = await api.call('DescribeSubnets', (m, c, o) =>
      c.send(new m.DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'availability-zone', Values: [az] }] }), o),
    );
    const subnets = out.Subnets ?? [];
    const subnet = subnets.find((s) => s.DefaultForAz) ?? subnets[0];
    if (!subnet?.SubnetId) throw new UsageError(`unable to find a subnet in the zone: ${az} (VPC ${vpcId}): pick another --amazonec2-zone or pass --amazonec2-subnet-id`);
    subnetId = subnet.SubnetId;
  }
  const vpcs = await api.call('DescribeVpcs', (m, c, o) => c.send(new m.DescribeVpcsCommand({ VpcIds: [vpcId] }), o));
  const vpcCidr = vpcs.Vpcs?.[0]?.CidrBlock ?? '';
  if (!vpcCidr) throw new DriverError(`VPC ${vpcId} has no IPv4 range`);
  return { vpcId, vpcCidr, subnetId };
}

type Rule = { proto: string; port: number; peer: { cidr: string } | { self: true } };

/** The ports a machine needs: SSH and the engine for its clients, swarm mode between members. */
export function wantedRules(cfg: Ec2Settings, enginePort: number, clientCidr: string): Rule[] {
  const clients = { cidr: clientCidr };
  const self = { self: true as const };
  const rules: Rule[] = [
    { proto: 'tcp', port: cfg.SSHPort || 22, peer: clients },
    { proto: 'tcp', port: enginePort, peer: clients },
    { proto: 'tcp', port: 2377, peer: self },
    { proto: 'tcp', port: 7946, peer: self },
    { proto: 'udp', port: 7946, peer: self },
    { proto: 'udp', port: 4789, peer: self },
  ];
  for (const spec of cfg.OpenPorts) {
    const { port, proto } = parseOpenPort(spec);
    rules.push({ proto, port, peer: clients });
  }
  // One rule per port: `--amazonec2-open-port 22` is already there, and EC2 refuses a
  // request holding the same rule twice.
  return rules.filter((r, i) => rules.findIndex((x) => x.proto === r.proto && x.port === r.port) === i);
}

/**
 * Whether the group already lets this port in, from anyone: a port the user restricted by
 * hand (22 from the office only) is left as they made it, as Docker Machine did.
 */
function covers(group: SecurityGroup, proto: string, port: number): boolean {
  return (group.IpPermissions ?? []).some(
    (p) => (p.IpProtocol === '-1' || p.IpProtocol === proto) && (p.IpProtocol === '-1' || ((p.FromPort ?? -1) <= port && port <= (p.ToPort ?? -1))),
  );
}

export function missingPermissions(group: SecurityGroup, rules: Rule[]): IpPermission[] {
  return rules
    .filter((r) => !covers(group, r.proto, r.port))
    .map((r) => ({
      IpProtocol: r.proto,
      FromPort: r.port,
      ToPort: r.port,
      ...('cidr' in r.peer ? { IpRanges: [{ CidrIp: r.peer.cidr }] } : { UserIdGroupPairs: [{ GroupId: group.GroupId! }] }),
    }));
}
