import { execFileSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { DriverError } from '../../errors.js';
import { intToIp as toIp, ipToInt as toInt, maskOf, prefixOf, sameNetwork } from '../../net/ipv4.js';
import { parseHostOnlyCidr } from './flags.js';
import { parseDhcpServers, parseHostOnlyIfs, parseHostOnlyNets, type HostOnlyIf, type HostOnlyNet } from './parse.js';
import { VBoxManageError, type VBoxManage } from './vboxmanage.js';


export interface HostOnlyPlan {
  hostIp: string;
  mask: string;
  prefix: number;
  network: string;
  /** The DHCP server's own address and its lease range. */
  dhcp: { ip: string; lower: string; upper: string };
}

/** From --virtualbox-hostonly-cidr: the host's address on the network and the DHCP range. */
export function hostOnlyPlan(cidr: string): HostOnlyPlan {
  const { ip, prefix, size, base: net } = parseHostOnlyCidr(cidr);
  if (toInt(ip) === net) {
    throw new DriverError(`host-only cidr must be specified with a host address, not a network address: use ${toIp(net + 1)}/${prefix} rather than ${cidr}`);
  }
  if (toInt(ip) === net + size - 1) throw new DriverError(`host-only cidr ${cidr} names the broadcast address: use ${toIp(net + 1)}/${prefix}`);
  // VirtualBox's own layout for a /24: leases from .100 up, the server just below them.
  const lower = size > 200 ? net + 100 : net + Math.floor(size / 2);
  const upper = net + size - 2;
  let server = lower - 1;
  if (server === toInt(ip)) server--;
  return { hostIp: ip, mask: maskOf(prefix), prefix, network: toIp(net), dhcp: { ip: toIp(server), lower: toIp(lower), upper: toIp(upper) } };
}

/**
 * A fixed address in the plan's lease range, from the machine's name: past the first 50
 * leases on a /24 (.150 to .249), and always inside the range on smaller networks.
 */
export function fixedAddress(plan: HostOnlyPlan, name: string): string {
  const lower = toInt(plan.dhcp.lower);
  const span = toInt(plan.dhcp.upper) - lower + 1;
  const skip = Math.min(50, Math.floor(span / 3));
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return toIp(lower + skip + (h % Math.min(100, span - skip)));
}

export interface HostInterface {
  name: string;
  ip: string;
  prefix: number;
}

/** The host's IPv4 networks; on Linux also those of interfaces that are down (Node lists only running ones). */
export function hostInterfaces(): HostInterface[] {
  const out: HostInterface[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) out.push({ name, ip: a.address, prefix: prefixOf(a.netmask) });
    }
  }
  if (process.platform === 'linux') {
    try {
      const text = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      for (const m of text.matchAll(/^\d+:\s+(\S+)\s+inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/gm)) {
        const [, name, ip, prefix] = m;
        if (!ip!.startsWith('127.') && !out.some((h) => h.name === name && h.ip === ip)) out.push({ name: name!, ip: ip!, prefix: Number(prefix) });
      }
    } catch {
      // No iproute2: the running interfaces are all there is to check.
    }
  }
  return out;
}

/**
 * The host-only interface to use: the one already on exactly this address and mask, or a new
 * one; a network that overlaps another interface of the host's is refused before anything is made.
 */
export function chooseHostOnly(plan: HostOnlyPlan, existing: HostOnlyIf[], host: HostInterface[]): { reuse?: HostOnlyIf } {
  const reuse = existing.find((i) => i.ip === plan.hostIp && i.mask === plan.mask);
  if (reuse) return { reuse };
  const cidr = `${plan.hostIp}/${plan.prefix}`;
  const ours = { ip: plan.hostIp, prefix: plan.prefix };
  for (const i of existing) {
    if (i.ip && i.mask && sameNetwork({ ip: i.ip, prefix: prefixOf(i.mask) }, ours)) {
      throw new DriverError(
        `host-only cidr ${cidr} conflicts with VirtualBox host-only interface ${i.name} (${i.ip}/${prefixOf(i.mask)}): pass --virtualbox-hostonly-cidr ${i.ip}/${prefixOf(i.mask)} to share it, or a network of its own`,
      );
    }
  }
  const vbox = new Set(existing.map((i) => i.name));
  for (const h of host) {
    if (!vbox.has(h.name) && sameNetwork(h, ours)) {
      throw new DriverError(
        `host-only cidr ${cidr} conflicts with the network address of host interface ${h.name} (${h.ip}/${h.prefix}): pass --virtualbox-hostonly-cidr with another network, e.g. 192.168.99.1/24`,
      );
    }
  }
  return {};
}

/** Makes sure the host-only interface and its DHCP server exist; returns the interface's name. */
export async function ensureHostOnly(
  vbox: VBoxManage,
  plan: HostOnlyPlan,
  opts: { dhcp: boolean; log: (line: string) => void },
): Promise<string> {
  const existing = parseHostOnlyIfs(await vbox.run(['list', 'hostonlyifs']));
  let name = chooseHostOnly(plan, existing, hostInterfaces()).reuse?.name;
  if (!name) {
    opts.log(`Creating a new host-only adapter for ${plan.hostIp}/${plan.prefix}...`);
    const out = await vbox.run(['hostonlyif', 'create']).catch((err: unknown) => {
      throw hostOnlyError(err, plan);
    });
    name = /Interface '(.+?)' was successfully created/.exec(out)?.[1];
    if (!name) throw new DriverError(`VBoxManage hostonlyif create did not name the interface it made: ${out.trim()}`);
    await vbox.run(['hostonlyif', 'ipconfig', name, '--ip', plan.hostIp, '--netmask', plan.mask]).catch((err: unknown) => {
      throw hostOnlyError(err, plan);
    });
    // A new interface can take a moment to show up with its address (Docker Machine saw this on Windows).
    const seen = parseHostOnlyIfs(await vbox.run(['list', 'hostonlyifs'])).find((i) => i.name === name);
    if (!seen || seen.ip !== plan.hostIp) throw new DriverError(`The host-only adapter ${name} we just created is not visible with ${plan.hostIp}: restart VirtualBox and retry`);
  }
  if (opts.dhcp) await ensureDhcp(vbox, name, plan);
  return name;
}

async function ensureDhcp(vbox: VBoxManage, ifName: string, plan: HostOnlyPlan): Promise<void> {
  const netName = `HostInterfaceNetworking-${ifName}`;
  const servers = parseDhcpServers(await vbox.run(['list', 'dhcpservers']));
  const cur = servers.find((s) => s.networkName === netName);
  const want = ['--ip', plan.dhcp.ip, '--netmask', plan.mask, '--lowerip', plan.dhcp.lower, '--upperip', plan.dhcp.upper, '--enable'];
  if (!cur) {
    await vbox.run(['dhcpserver', 'add', '--netname', netName, ...want]);
  } else if (!(cur.enabled && cur.ip === plan.dhcp.ip && cur.mask === plan.mask && cur.lower === plan.dhcp.lower && cur.upper === plan.dhcp.upper)) {
    await vbox.run(['dhcpserver', 'modify', '--netname', netName, ...want]);
  }
}

function hostOnlyError(err: unknown, plan: HostOnlyPlan): unknown {
  if (!(err instanceof VBoxManageError)) return err;
  if (/E_ACCESSDENIED/.test(err.stderr)) {
    // VirtualBox 6.1.28+ on Linux and macOS allows host-only networks only in the ranges of /etc/vbox/networks.conf.
    return new DriverError(
      `VirtualBox refused host-only network ${plan.network}/${plan.prefix} (access denied): add "* ${plan.network}/${plan.prefix}" to /etc/vbox/networks.conf, or pass --virtualbox-hostonly-cidr 192.168.56.1/21`,
      { cause: err },
    );
  }
  if (/vboxnetctl/.test(err.stderr)) {
    return new DriverError(`VirtualBox could not create a host-only adapter (${err.message.replace(/^VBoxManage \S+ failed: /, '')}): its kernel extension is not loaded; allow it in System Settings > Privacy & Security, or reinstall VirtualBox`, { cause: err });
  }
  return err;
}

/**
 * VirtualBox 7 on macOS has host-only networks instead of interfaces; elsewhere both exist
 * and interfaces stay the default, as Docker Machine used them. MACHINE_VIRTUALBOX_HOSTONLY
 * (interface or network) overrides the choice.
 */
export function hostOnlyKind(major: number, os = process.platform, env = process.env): 'interface' | 'network' {
  const forced = env['MACHINE_VIRTUALBOX_HOSTONLY'];
  if (forced === 'interface' || forced === 'network') return forced;
  return os === 'darwin' && major >= 7 ? 'network' : 'interface';
}

/** The host-only network on exactly the plan's network, or none; an overlapping one is refused. */
export function chooseHostOnlyNet(plan: HostOnlyPlan, existing: HostOnlyNet[]): { reuse?: HostOnlyNet } {
  const ours = { ip: plan.hostIp, prefix: plan.prefix };
  for (const n of existing) {
    if (!n.lower || !n.mask) continue;
    const theirs = { ip: n.lower, prefix: prefixOf(n.mask) };
    if (!sameNetwork(theirs, ours)) continue;
    if (theirs.prefix === plan.prefix) return { reuse: n };
    throw new DriverError(
      `host-only cidr ${plan.hostIp}/${plan.prefix} conflicts with VirtualBox host-only network ${n.name} (${n.lower}/${theirs.prefix}): pass --virtualbox-hostonly-cidr with another network`,
    );
  }
  return {};
}

/** Makes sure a host-only network (with VirtualBox's built-in DHCP) covers the plan; returns its name. */
export async function ensureHostOnlyNet(vbox: VBoxManage, plan: HostOnlyPlan, log: (line: string) => void): Promise<string> {
  const { reuse } = chooseHostOnlyNet(plan, parseHostOnlyNets(await vbox.run(['list', 'hostonlynets'])));
  if (reuse) {
    if (!reuse.enabled) await vbox.run(['hostonlynet', 'modify', '--name', reuse.name, '--enable']);
    return reuse.name;
  }
  const name = `machine-${plan.network}`;
  log(`Creating a new host-only network ${name} for ${plan.network}/${plan.prefix}...`);
  await vbox.run(['hostonlynet', 'add', '--name', name, '--netmask', plan.mask, '--lower-ip', plan.dhcp.lower, '--upper-ip', plan.dhcp.upper, '--enable']).catch((err: unknown) => {
    throw hostOnlyError(err, plan);
  });
  return name;
}
