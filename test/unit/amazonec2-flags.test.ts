import { describe, expect, it } from 'vitest';
import { parseEc2Flags, parseOpenPort } from '../../src/drivers/amazonec2/flags.js';
import { missingPermissions, wantedRules } from '../../src/drivers/amazonec2/network.js';
import { defaultsOf } from '../../src/drivers/settings.js';
import { Ec2SettingsSchema } from '../../src/drivers/amazonec2/flags.js';

// #12, defect 10: Docker Machine's checks that need no API, made before anything is made.
const parse = (flags: Record<string, unknown>) => parseEc2Flags(flags as never, '/tmp/m');

describe('amazonec2 flags', () => {
  it('refuses a region that is no AWS region name, unless another cloud is the endpoint', () => {
    expect(() => parse({ 'amazonec2-region': 'moon-1' })).toThrow(/^Invalid region specified: "moon-1" is not an AWS region name like us-east-1/);
    expect(parse({ 'amazonec2-region': 'us-gov-west-1' }).Region).toBe('us-gov-west-1');
    expect(parse({ 'amazonec2-region': 'ap-southeast-4' }).Region).toBe('ap-southeast-4');
    expect(parse({ 'amazonec2-region': 'RegionOne', 'amazonec2-endpoint': 'https://ec2.example.org' }).Region).toBe('RegionOne');
  });

  it('takes the zone as a letter, and forgives the full zone name of the same region', () => {
    expect(parse({ 'amazonec2-zone': 'b' }).Zone).toBe('b');
    expect(parse({ 'amazonec2-region': 'eu-west-1', 'amazonec2-zone': 'eu-west-1c' }).Zone).toBe('c');
    expect(() => parse({ 'amazonec2-zone': 'eu-west-1c' })).toThrow(/--amazonec2-zone takes the zone's letter/);
    expect(() => parse({ 'amazonec2-zone': '1' })).toThrow(/--amazonec2-zone/);
  });

  it('checks --amazonec2-open-port: PORT, PORT/tcp or PORT/udp', () => {
    expect(parseOpenPort('8080')).toEqual({ port: 8080, proto: 'tcp' });
    expect(parseOpenPort('53/UDP')).toEqual({ port: 53, proto: 'udp' });
    for (const bad of ['http', '0', '70000', '80/icmp', '80-90', '']) {
      expect(() => parse({ 'amazonec2-open-port': [bad] }), bad).toThrow(/--amazonec2-open-port ".*" is not a port/);
    }
  });

  it("says Docker Machine's lines for its own checks", () => {
    expect(() => parse({ 'amazonec2-insecure-transport': true })).toThrow(/^using --amazonec2-insecure-transport also requires --amazonec2-endpoint$/);
    expect(() => parse({ 'amazonec2-keypair-name': 'mine' })).toThrow(/^using --amazonec2-keypair-name also requires --amazonec2-ssh-keypath$/);
    expect(() => parse({ 'amazonec2-tags': 'a,b,c' })).toThrow(/key1,value1/);
  });

  it('takes --amazonec2-block-duration-minutes in hours, for spot instances only', () => {
    expect(parse({ 'amazonec2-request-spot-instance': true, 'amazonec2-block-duration-minutes': 120 }).BlockDurationMinutes).toBe(120);
    expect(() => parse({ 'amazonec2-request-spot-instance': true, 'amazonec2-block-duration-minutes': 90 })).toThrow(/takes 60, 120, 180, 240, 300 or 360, not 90/);
    expect(() => parse({ 'amazonec2-block-duration-minutes': 60 })).toThrow(/needs --amazonec2-request-spot-instance/);
  });

  it('gives every create its own id, the launch token and the tag rm finds leftovers by', () => {
    const a = parse({}).CreateId;
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(parse({}).CreateId).not.toBe(a);
  });
});

describe('amazonec2 security group rules', () => {
  const cfg = { ...defaultsOf(Ec2SettingsSchema), SSHPort: 22 };

  it('asks for each port once, even when --amazonec2-open-port repeats one the machine needs anyway', () => {
    const rules = wantedRules({ ...cfg, OpenPorts: ['22', '2376/tcp', '8080', '8080'] }, 2376, '0.0.0.0/0');
    expect(rules.map((r) => `${r.proto}/${r.port}`)).toEqual(['tcp/22', 'tcp/2376', 'tcp/2377', 'tcp/7946', 'udp/7946', 'udp/4789', 'tcp/8080']);
  });

  it('leaves ports the group already lets in as they are, whoever they are open to', () => {
    const group = {
      GroupId: 'sg-1',
      IpPermissions: [
        // The user opened SSH to their office only: machine must not widen it.
        { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '203.0.113.0/24' }] },
        { IpProtocol: 'udp', FromPort: 7000, ToPort: 8000, UserIdGroupPairs: [{ GroupId: 'sg-1' }] },
      ],
    };
    const missing = missingPermissions(group, wantedRules(cfg, 2376, '172.31.0.0/16'));
    expect(missing.map((p) => `${p.IpProtocol}/${p.FromPort}`)).toEqual(['tcp/2376', 'tcp/2377', 'tcp/7946', 'udp/4789']);
    expect(missing[0]).toEqual({ IpProtocol: 'tcp', FromPort: 2376, ToPort: 2376, IpRanges: [{ CidrIp: '172.31.0.0/16' }] });
    expect(missing[1]).toMatchObject({ UserIdGroupPairs: [{ GroupId: 'sg-1' }] });
    expect(missingPermissions({ GroupId: 'sg-2', IpPermissions: [{ IpProtocol: '-1' }] }, wantedRules(cfg, 2376, '0.0.0.0/0'))).toEqual([]);
  });
});
