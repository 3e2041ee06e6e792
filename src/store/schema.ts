import * as v from 'valibot';
import { migrateToV3, readConfigVersion, type MigrationContext } from './migrate.js';

// The on-disk shape is Docker Machine's ConfigVersion 3, field for field, so stores move
// both ways. Go writes `null` for empty slices: accept it and normalise to [].
const strList = v.pipe(
  v.optional(v.nullable(v.array(v.string())), []),
  v.transform((x) => x ?? []),
);
const str = v.optional(v.string(), '');
const num = v.optional(v.number(), 0);
const bool = v.optional(v.boolean(), false);

export const CURRENT_CONFIG_VERSION = 3;

export const EngineOptionsSchema = v.looseObject({
  ArbitraryFlags: strList,
  Dns: strList,
  GraphDir: str,
  Env: strList,
  Ipv6: bool,
  InsecureRegistry: strList,
  Labels: strList,
  LogLevel: str,
  StorageDriver: str,
  SelinuxEnabled: bool,
  TlsVerify: v.optional(v.boolean(), true),
  RegistryMirror: strList,
  InstallURL: str,
  // machine's own: "ssh" for an engine reached over SSH only (host/transport.ts); absent is TLS.
  Transport: v.optional(v.picklist(['tls', 'ssh'])),
});

export const SwarmOptionsSchema = v.looseObject({
  IsSwarm: bool,
  Address: str,
  Discovery: str,
  Agent: bool,
  Master: bool,
  Host: str,
  Image: str,
  Strategy: str,
  Heartbeat: num,
  Overcommit: num,
  ArbitraryFlags: strList,
  ArbitraryJoinFlags: strList,
  Env: strList,
  IsExperimental: bool,
});

export const AuthOptionsSchema = v.looseObject({
  CertDir: str,
  CaCertPath: str,
  CaPrivateKeyPath: str,
  CaCertRemotePath: str,
  ServerCertPath: str,
  ServerKeyPath: str,
  ClientKeyPath: str,
  ServerCertRemotePath: str,
  ServerKeyRemotePath: str,
  ClientCertPath: str,
  ServerCertSANs: strList,
  StorePath: str,
});

/** Fields every driver persists (libmachine's BaseDriver); drivers add their own beside them. */
export const BaseDriverSchema = v.looseObject({
  IPAddress: str,
  MachineName: str,
  SSHUser: str,
  SSHPort: num,
  SSHKeyPath: str,
  StorePath: str,
  SwarmMaster: bool,
  SwarmHost: str,
  SwarmDiscovery: str,
});

/**
 * Swarm-mode membership, our addition. Docker Machine ignores unknown fields, so a store
 * stays readable by it.
 */
export const SwarmModeSchema = v.object({
  Cluster: v.string(),
  Role: v.picklist(['manager', 'worker']),
});

export const HostConfigSchema = v.looseObject({
  ConfigVersion: v.number(),
  Driver: BaseDriverSchema,
  DriverName: v.pipe(v.string(), v.minLength(1)),
  HostOptions: v.looseObject({
    Driver: str,
    Memory: num,
    Disk: num,
    EngineOptions: v.optional(EngineOptionsSchema, {}),
    SwarmOptions: v.optional(SwarmOptionsSchema, {}),
    AuthOptions: AuthOptionsSchema,
  }),
  Name: v.pipe(v.string(), v.minLength(1)),
  SwarmMode: v.optional(SwarmModeSchema),
  /** The version of machine that last wrote the file (our addition; Docker Machine ignores it). */
  MachineVersion: v.optional(v.string()),
});

export type HostConfig = v.InferOutput<typeof HostConfigSchema>;
export type EngineOptions = v.InferOutput<typeof EngineOptionsSchema>;
export type SwarmOptions = v.InferOutput<typeof SwarmOptionsSchema>;
export type AuthOptions = v.InferOutput<typeof AuthOptionsSchema>;

export type ParseResult =
  | { ok: true; config: HostConfig; migratedFrom?: number }
  | { ok: false; detail: string; futureVersion?: number };

/**
 * Reads a parsed config.json of ConfigVersion 0 to 3: older versions are migrated in memory to
 * version 3 (./migrate.ts) and then checked like a version 3 file. A newer version is refused
 * with `futureVersion` set, so the caller can say "upgrade" rather than "corrupt". `where` says
 * which machine and store the file belongs to: versions 0 and 1 hold neither.
 */
export function parseHostConfig(raw: unknown, where: MigrationContext = { name: '', storeRoot: '' }): ParseResult {
  let input = raw;
  let from = CURRENT_CONFIG_VERSION;
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const version = readConfigVersion(raw as Record<string, unknown>);
    if (!version.ok) return { ok: false, detail: version.detail };
    from = version.version;
    if (from > CURRENT_CONFIG_VERSION) {
      return {
        ok: false,
        futureVersion: from,
        detail: `ConfigVersion ${from} is newer than ${CURRENT_CONFIG_VERSION}, the newest this version reads`,
      };
    }
    if (from < CURRENT_CONFIG_VERSION) input = migrateToV3(raw as Record<string, unknown>, from, where);
  }
  const result = v.safeParse(HostConfigSchema, input);
  if (!result.success) {
    const issue = result.issues[0];
    const field = issue ? v.getDotPath(issue) : null;
    const migrated = from < CURRENT_CONFIG_VERSION ? ` (after migrating it from ConfigVersion ${from})` : '';
    return { ok: false, detail: `${field ? `field ${field}: ` : ''}${issue?.message ?? 'invalid'}${migrated}` };
  }
  return from < CURRENT_CONFIG_VERSION ? { ok: true, config: result.output, migratedFrom: from } : { ok: true, config: result.output };
}

export function defaultEngineOptions(): EngineOptions {
  return v.parse(EngineOptionsSchema, { InstallURL: 'https://get.docker.com' });
}

export function defaultSwarmOptions(): SwarmOptions {
  return v.parse(SwarmOptionsSchema, {
    Host: 'tcp://0.0.0.0:3376',
    Image: 'swarm:latest',
    Strategy: 'spread',
  });
}
