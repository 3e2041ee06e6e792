import { randomBytes } from 'node:crypto';
import { DriverError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { EngineApiError, type EngineApi, type NetworkInfo } from './engine-api.js';
import { cidrOf, intToIp } from '../../net/ipv4.js';

export class NetworkFullError extends DriverError {}

/**
 * Machines get fixed addresses: a restart would otherwise hand out whatever the network's
 * allocator has next, and the engine's certificate and swarm's advertise address name the
 * old one. The engine lets a container ask for an address only on a network whose subnet
 * was given at creation, and dynamic allocations must not land there: so a network this
 * driver makes gives the lower half of its subnet to machines and the upper half (IPRange)
 * to everything else.
 */
export interface StaticPlan {
  subnet: string;
  ipRange: string;
  gateway: string;
}

export function staticPlan(net: NetworkInfo): StaticPlan | undefined {
  for (const c of net.IPAM.Config ?? []) {
    if (!c.Subnet || !c.IPRange || !c.Subnet.includes('.') || c.IPRange === c.Subnet) continue;
    const { base } = cidrOf(c.Subnet);
    return { subnet: c.Subnet, ipRange: c.IPRange, gateway: c.Gateway || intToIp(base + 1) };
  }
  return undefined;
}

export function subnetOf(net: NetworkInfo): string {
  return net.IPAM.Config?.find((c) => c.Subnet?.includes('.'))?.Subnet ?? '';
}

/** The network by name, made when missing; under the store lock so parallel creates make one. */
export async function ensureNetwork(
  api: EngineApi,
  name: string,
  labels: Record<string, string>,
  lock: <T>(key: string, fn: () => Promise<T>) => Promise<T>,
  log: Logger,
): Promise<NetworkInfo> {
  const found = await api.networkInspect(name);
  if (found) return found;
  return lock(`docker-network-${name}`, async () => {
    const again = await api.networkInspect(name);
    if (again) return again;
    for (let attempt = 1; ; attempt++) {
      const subnet = await freeSubnet(api, name);
      const ipRange = upperHalf(subnet);
      log.info(`Creating network "${name}" (${subnet}) on ${api.url}...`);
      try {
        await api.networkCreate({ Name: name, Labels: labels, IPAM: { Config: [{ Subnet: subnet, ...(ipRange ? { IPRange: ipRange } : {}) }] } });
      } catch (err) {
        // Another store made it meanwhile (409), or took that subnet between probe and create.
        const existing = await api.networkInspect(name);
        if (existing) return existing;
        if (attempt < 3 && err instanceof EngineApiError && /overlap/i.test(err.engineMessage)) continue;
        throw err;
      }
      const made = await api.networkInspect(name);
      if (!made) throw new DriverError(`Network "${name}" vanished from ${api.url} right after it was created`);
      return made;
    }
  });
}

/**
 * A subnet the engine itself would choose: its address pools skip its other networks and
 * the host's routes, which a fixed guess cannot. A throwaway network asks for one.
 */
async function freeSubnet(api: EngineApi, name: string): Promise<string> {
  const probe = `${name}-probe-${randomBytes(4).toString('hex')}`;
  let id: string;
  try {
    id = await api.networkCreate({ Name: probe, Labels: { 'io.machine.network-probe': 'true' } });
  } catch (err) {
    if (err instanceof EngineApiError && /address pool|non-overlapping/i.test(err.engineMessage)) {
      throw new NetworkFullError(
        `The engine at ${api.url} has no free subnet for network "${name}" (${err.engineMessage}): remove unused networks (docker network prune) or pass an existing one with --docker-network`,
      );
    }
    throw err;
  }
  try {
    const info = await api.networkInspect(id);
    const subnet = info ? subnetOf(info) : '';
    if (!subnet) throw new DriverError(`The engine at ${api.url} gave network "${probe}" no IPv4 subnet`);
    return subnet;
  } finally {
    await api.networkRemove(id);
  }
}

/** Addresses in use or promised on the network, stopped containers' fixed ones included. */
async function usedAddresses(api: EngineApi, net: NetworkInfo): Promise<Set<string>> {
  const used = new Set<string>();
  for (const c of Object.values(net.Containers ?? {})) if (c.IPv4Address) used.add(c.IPv4Address.split('/')[0]!);
  for (const c of await api.containerList({ network: [net.Name] })) {
    const ep = c.NetworkSettings?.Networks?.[net.Name];
    if (ep?.IPAddress) used.add(ep.IPAddress);
    if (ep?.IPAMConfig?.IPv4Address) used.add(ep.IPAMConfig.IPv4Address);
  }
  return used;
}

/**
 * The lowest free machine address, or undefined where the network has no room set aside
 * for fixed addresses (one made outside this driver): then the engine picks, as before.
 * Call under the network's lock and create the container before releasing it.
 */
export async function pickAddress(api: EngineApi, net: NetworkInfo): Promise<string | undefined> {
  const plan = staticPlan(net);
  if (!plan) return undefined;
  const ip = firstFree(plan, await usedAddresses(api, net));
  if (!ip) {
    throw new NetworkFullError(
      `No address left for another machine on network "${net.Name}" (${plan.subnet}): remove machines you no longer need, or use another --docker-network`,
    );
  }
  return ip;
}

export function firstFree(plan: StaticPlan, used: Set<string>): string | undefined {
  const { base, size } = cidrOf(plan.subnet);
  const range = cidrOf(plan.ipRange);
  for (let i = base + 1; i < base + size - 1; i++) {
    if (i >= range.base && i < range.base + range.size) continue;
    const ip = intToIp(i);
    if (ip !== plan.gateway && !used.has(ip)) return ip;
  }
  return undefined;
}

/** The upper half of a subnet as a CIDR; none for subnets too small to split. */
export function upperHalf(subnet: string): string | undefined {
  const { base, prefix } = cidrOf(subnet);
  if (prefix > 28) return undefined;
  return `${intToIp(base + 2 ** (31 - prefix))}/${prefix + 1}`;
}
