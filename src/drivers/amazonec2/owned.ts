import type { Ec2Api } from './api.js';

// Everything create makes carries these tags, so that `rm` can find what a crash (kill -9, a
// lost answer) kept out of the record. The create id, not the machine's name, says whose it
// is: two stores may each hold a machine of the same name in one account.
export const CREATED_BY_TAG = 'machine:created-by';
export const CREATE_ID_TAG = 'machine:create-id';

type Tag = { Key: string; Value: string };
type Taggable = 'instance' | 'volume' | 'key-pair' | 'security-group';

export function ownTags(createId: string): Tag[] {
  return [
    { Key: CREATED_BY_TAG, Value: 'machine' },
    { Key: CREATE_ID_TAG, Value: createId },
  ];
}

export function tagSpecifications(types: Taggable[], tags: Tag[]): Array<{ ResourceType: Taggable; Tags: Tag[] }> {
  return types.map((ResourceType) => ({ ResourceType, Tags: tags }));
}

/** What carries this create's id: instances not yet terminated, key pairs, groups. */
export interface Owned {
  instanceIds: string[];
  keyNames: string[];
  groupIds: string[];
}

export async function findOwned(api: Ec2Api, createId: string): Promise<Owned> {
  const byId = [{ Name: `tag:${CREATE_ID_TAG}`, Values: [createId] }];
  const [instances, keys, groups] = await Promise.all([
    api.call('DescribeInstances', (m, c, o) =>
      c.send(new m.DescribeInstancesCommand({ Filters: [...byId, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'] }] }), o),
    ),
    api.call('DescribeKeyPairs', (m, c, o) => c.send(new m.DescribeKeyPairsCommand({ Filters: byId }), o)),
    api.call('DescribeSecurityGroups', (m, c, o) => c.send(new m.DescribeSecurityGroupsCommand({ Filters: byId }), o)),
  ]);
  return {
    instanceIds: (instances.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!).filter(Boolean),
    keyNames: (keys.KeyPairs ?? []).map((k) => k.KeyName!).filter(Boolean),
    groupIds: (groups.SecurityGroups ?? []).map((g) => g.GroupId!).filter(Boolean),
  };
}
