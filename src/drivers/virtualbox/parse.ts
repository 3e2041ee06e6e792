/**
 * Readers of VBoxManage's outputs, tolerant of what differs between 6.1 and 7.x: warning
 * lines before the version, the non key=value "Encryption:" line 7.0 puts into
 * --machinereadable, blank lines inside 7.x host-only network records, both formats of
 * `guestproperty enumerate`, and CRLF line ends from Windows hosts.
 */

export interface VBoxVersion {
  major: number;
  minor: number;
  patch: number;
  raw: string;
}

export function parseVersion(out: string): VBoxVersion | undefined {
  for (const line of out.split(/\r?\n/)) {
    const m = /^\s*(\d+)\.(\d+)\.(\d+)\S*/.exec(line);
    if (m) return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), raw: m[0].trim() };
  }
  return undefined;
}

function unquote(s: string): string {
  if (!(s.length >= 2 && s.startsWith('"') && s.endsWith('"'))) return s;
  return s.slice(1, -1).replace(/\\(["\\])/g, '$1');
}

/** showvminfo --machinereadable: key=value, keys and values quoted when they need it. */
export function parseMachineReadable(out: string): Map<string, string> {
  const map = new Map<string, string>();
  const lines = out.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = /^\s*("(?:[^"\\]|\\.)*"|[^=\s][^=]*?)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    // A quoted value can run over several lines (a VM's description).
    while (value.startsWith('"') && !closed(value) && i + 1 < lines.length) value += '\n' + lines[++i];
    map.set(unquote(m[1]!), unquote(value));
  }
  return map;
}

function closed(value: string): boolean {
  if (value.length < 2 || !value.endsWith('"')) return false;
  let backslashes = 0;
  for (let j = value.length - 2; j >= 0 && value[j] === '\\'; j--) backslashes++;
  return backslashes % 2 === 0;
}

export interface VmRef {
  name: string;
  uuid: string;
}

/** `list vms` / `list runningvms`: "name" {uuid}. */
export function parseVmList(out: string): VmRef[] {
  const vms: VmRef[] = [];
  for (const line of out.split(/\r?\n/)) {
    const m = /^"(.*)" \{([0-9a-fA-F-]{36})\}\s*$/.exec(line);
    if (m) vms.push({ name: m[1]!, uuid: m[2]! });
  }
  return vms;
}

/**
 * Records of "Key:   value" lines, each starting at `firstKey`; indented lines (a DHCP
 * server's option lists) and blank lines inside a record are skipped.
 */
export function parseRecords(out: string, firstKey: string): Array<Record<string, string>> {
  const records: Array<Record<string, string>> = [];
  let cur: Record<string, string> | undefined;
  for (const line of out.split(/\r?\n/)) {
    if (!line.trim() || /^\s/.test(line)) continue;
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.trim();
    if (key === firstKey) {
      cur = {};
      records.push(cur);
    }
    if (cur) cur[key] = m[2]!.trim();
  }
  return records;
}

export interface HostOnlyIf {
  name: string;
  ip: string;
  mask: string;
  dhcp: boolean;
  up: boolean;
  networkName: string;
}

export function parseHostOnlyIfs(out: string): HostOnlyIf[] {
  return parseRecords(out, 'Name').map((r) => ({
    name: r['Name'] ?? '',
    ip: r['IPAddress'] ?? '',
    mask: r['NetworkMask'] ?? '',
    dhcp: (r['DHCP'] ?? '').toLowerCase() === 'enabled',
    up: (r['Status'] ?? '').toLowerCase() === 'up',
    networkName: r['VBoxNetworkName'] ?? '',
  }));
}

/** VirtualBox 7's host-only networks (macOS has only these): a DHCP range and a mask, no host address. */
export interface HostOnlyNet {
  name: string;
  mask: string;
  lower: string;
  upper: string;
  enabled: boolean;
}

export function parseHostOnlyNets(out: string): HostOnlyNet[] {
  return parseRecords(out, 'Name').map((r) => ({
    name: r['Name'] ?? '',
    mask: r['NetworkMask'] ?? '',
    lower: r['LowerIP'] ?? '',
    upper: r['UpperIP'] ?? '',
    enabled: (r['State'] ?? '').toLowerCase() === 'enabled',
  }));
}

export interface DhcpServer {
  networkName: string;
  ip: string;
  mask: string;
  lower: string;
  upper: string;
  enabled: boolean;
}

export function parseDhcpServers(out: string): DhcpServer[] {
  return parseRecords(out, 'NetworkName').map((r) => ({
    networkName: r['NetworkName'] ?? '',
    // 6.0 and later say "Dhcpd IP"; 5.x said "IP".
    ip: r['Dhcpd IP'] ?? r['IP'] ?? '',
    mask: r['NetworkMask'] ?? '',
    lower: r['LowerIPAddress'] ?? '',
    upper: r['UpperIPAddress'] ?? '',
    enabled: (r['Enabled'] ?? '').toLowerCase() === 'yes',
  }));
}

/** `guestproperty get`: "Value: x", or "No value set!". */
export function parseGuestProperty(out: string): string | undefined {
  const m = /^Value: (.*)$/m.exec(out.replace(/\r/g, ''));
  return m ? m[1]!.trim() : undefined;
}

/** `guestproperty enumerate`, 6.1's "Name: x, value: y, ..." or 7.x's "x = 'y' @ time flags". */
export function parseGuestProperties(out: string): Map<string, string> {
  const props = new Map<string, string>();
  for (const line of out.split(/\r?\n/)) {
    const old = /^Name: (.+?), value: (.*?), timestamp: \d+, flags: ?.*$/.exec(line);
    if (old) {
      props.set(old[1]!, old[2]!);
      continue;
    }
    const neu = /^(\S+)\s*= '(.*)'(?:\s+@\s+\S+.*)?$/.exec(line.trim());
    if (neu) props.set(neu[1]!, neu[2]!);
  }
  return props;
}

/** `list hostinfo`: whether the CPU offers VT-x/AMD-V to VirtualBox; undefined when not said. */
export function parseHwVirt(out: string): boolean | undefined {
  const m = /^Processor supports HW virtualization:\s*(yes|no)\s*$/im.exec(out);
  return m ? m[1]!.toLowerCase() === 'yes' : undefined;
}

export interface NatRule {
  name: string;
  proto: string;
  hostIp: string;
  hostPort: number;
  guestIp: string;
  guestPort: number;
}

/** The NAT port forwards; the machine has its one NAT adapter as NIC 1. */
export function parseNatRules(info: Map<string, string>): NatRule[] {
  const rules: NatRule[] = [];
  for (const [k, v] of info) {
    if (!/^Forwarding\(\d+\)$/.test(k)) continue;
    const [name, proto, hostIp, hostPort, guestIp, guestPort] = v.split(',');
    rules.push({ name: name ?? '', proto: proto ?? '', hostIp: hostIp ?? '', hostPort: Number(hostPort), guestIp: guestIp ?? '', guestPort: Number(guestPort) });
  }
  return rules;
}
