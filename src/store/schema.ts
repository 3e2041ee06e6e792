import * as v from 'valibot';

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
});

export type HostConfig = v.InferOutput<typeof HostConfigSchema>;
export type EngineOptions = v.InferOutput<typeof EngineOptionsSchema>;
export type SwarmOptions = v.InferOutput<typeof SwarmOptionsSchema>;
export type AuthOptions = v.InferOutput<typeof AuthOptionsSchema>;
export type BaseDriverConfig = v.InferOutput<typeof BaseDriverSchema>;

export type ParseResult = { ok: true; config: HostConfig } | { ok: false; detail: string };

export function parseHostConfig(raw: unknown): ParseResult {
  const result = v.safeParse(HostConfigSchema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    const where = issue ? v.getDotPath(issue) : null;
    return { ok: false, detail: `${where ? `field ${where}: ` : ''}${issue?.message ?? 'invalid'}` };
  }
  if (result.output.ConfigVersion !== CURRENT_CONFIG_VERSION) {
    return {
      ok: false,
      detail: `ConfigVersion ${result.output.ConfigVersion} is not supported (expected ${CURRENT_CONFIG_VERSION}; run "docker-machine ls" with Docker Machine 0.16 once to migrate it)`,
    };
  }
  return { ok: true, config: result.output };
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
