import type { DriverConfig, DriverContext } from './driver.js';

/** libmachine's BaseDriver fields, so config.json keeps Docker Machine's shape. */
export function baseDriverConfig(ctx: DriverContext): DriverConfig {
  return {
    IPAddress: '',
    MachineName: ctx.machineName,
    SSHUser: 'root',
    SSHPort: 22,
    SSHKeyPath: '',
    StorePath: ctx.storePath,
    SwarmMaster: false,
    SwarmHost: '',
    SwarmDiscovery: '',
  };
}

export function flagString(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}
export function flagInt(v: unknown, fallback: number): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return fallback;
}
