/**
 * The three lower bytes of a MAC derived from the machine's name and NIC number (FNV-1a),
 * so a machine keeps its MACs, and with them its DHCP leases, across restarts and rebuilds.
 */
export function nameMacBytes(name: string, nic: number): [number, number, number] {
  let h = 2166136261;
  for (const c of `${name}/${nic}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return [(h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
}

export const hex2 = (b: number) => b.toString(16).padStart(2, '0');
