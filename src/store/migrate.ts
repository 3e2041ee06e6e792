import { basename, dirname, join } from 'node:path';

// Docker Machine's config.json went through four shapes, numbered by ConfigVersion:
//   0  no ConfigVersion field; auth and swarm settings flat at the top of the host
//      (CaCertPath, ServerCertPath, SwarmMaster, ...), the machine directory in a top-level
//      StorePath, the name only in the directory (libmachine/host/host_v0.go).
//   1  the same settings nested in HostOptions.{EngineOptions,SwarmOptions,AuthOptions}; the
//      CA key still AuthOptions.PrivateKeyPath, the machine directory still a top-level
//      StorePath (HostV1 in libmachine/host/migrate_v1_v2.go).
//   2  AuthOptions gains CertDir and CaPrivateKeyPath, the top-level StorePath goes and the
//      host holds its Name (libmachine/host/host_v2.go).
//   3  the driver holds the store root in Driver.StorePath (libmachine/host/migrate_v2_v3.go).
// Docker Machine migrated on load and wrote the result back at once. We migrate in memory
// only, one small step per version, and the store writes version 3 on the next save.
// Each step does what Docker Machine's step did, except where that lost information; those
// places say so.

type Obj = Record<string, unknown>;

export interface MigrationContext {
  /** The machine's directory name. Versions 0 and 1 do not hold the name; Docker Machine's
   * filestore took it from the directory for every version, and so do we. */
  name: string;
  /** Root of the store the file was read from: the last resort when the file names no path
   * of its own to derive its store from. */
  storeRoot: string;
}

export type ConfigVersionResult = { ok: true; version: number } | { ok: false; detail: string };

/**
 * ConfigVersion as Docker Machine's Go struct read it: a missing field is 0 (version 0 files
 * have none). Anything that is not a whole number >= 0 could not have been written by any
 * version, so the file is corrupt rather than old or new.
 */
export function readConfigVersion(raw: Obj): ConfigVersionResult {
  if (!('ConfigVersion' in raw)) return { ok: true, version: 0 };
  const v = raw['ConfigVersion'];
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return { ok: true, version: v };
  return { ok: false, detail: `field ConfigVersion: ${JSON.stringify(v) ?? String(v)} is not a config version (a whole number from 0)` };
}

/** Runs the steps from `from` up to version 3. The input is not modified. */
export function migrateToV3(raw: Obj, from: number, ctx: MigrationContext): Obj {
  let h = raw;
  if (from <= 0) h = migrateV0ToV1(h, ctx);
  if (from <= 1) h = migrateV1ToV2(h, ctx);
  if (from <= 2) h = migrateV2ToV3(h, ctx);
  return h;
}

/**
 * 0 -> 1 (libmachine/host/migrate_v0_v1.go, MigrateHostV0ToHostV1): the flat fields move into
 * HostOptions: Swarm{Discovery,Host,Master} into SwarmOptions, StorePath and the certificate
 * paths (the CA key still as PrivateKeyPath) into AuthOptions.
 *
 * Where we differ, and why:
 * - Docker Machine rebuilt HostOptions from the flat fields alone and dropped a HostOptions the
 *   file already had. The version 0 Host of libmachine/host.go wrote both: nested HostOptions
 *   filled in and the flat fields left empty ("deprecated options; these are left to assist in
 *   config migrations"), so for such files its migration emptied the engine options and the
 *   certificate paths. Here a flat value wins when it is set (as in Docker Machine), else the
 *   nested one is kept.
 * - Paths set nowhere get the defaults of the earlier flat -> nested fill (libmachine/migrate.go,
 *   getCertInfoFromHost): ca.pem, ca-key.pem, cert.pem and key.pem in the store's certs/. That
 *   fill put the server pair in certs/ too, a directory every machine shares, so regenerating
 *   one machine's certificate would overwrite another's; the default here is the machine's own
 *   directory, where every later version keeps it.
 * - Docker Machine did not carry StorePath over to version 1, so its next step derived the store
 *   root from "" (giving "."). It is carried over here.
 * - SwarmOptions.IsSwarm did not exist in version 0 and Docker Machine left it false, so a swarm
 *   node no longer showed as one. Joining a swarm took a discovery URL, so a discovery URL or a
 *   master flag sets it here.
 * - A nested EngineOptions.TlsVerify in a version 0 file is not a choice: upstream's own
 *   version 0 sample (migrate_v0_v3_test.go) has a full TLS setup and TlsVerify false, Go's
 *   zero value. Our provisioning reads the field, so a false kept here would turn TLS off at
 *   the next provision; it is dropped and reads as on. With no nested EngineOptions at all the
 *   engine options are empty, as in Docker Machine.
 */
export function migrateV0ToV1(h0: Obj, ctx: MigrationContext): Obj {
  const {
    StorePath,
    CaCertPath,
    PrivateKeyPath,
    ServerCertPath,
    ServerKeyPath,
    ClientCertPath,
    ClientKeyPath,
    SwarmHost,
    SwarmMaster,
    SwarmDiscovery,
    HostOptions,
    ...rest
  } = h0;
  const driver = obj(h0['Driver']);
  const nested = obj(HostOptions);
  const nestedAuth = obj(nested['AuthOptions']);
  const machineDir = firstSet(StorePath, nestedAuth['StorePath']);
  const root = storeRootOf({ ...h0, StorePath: machineDir }, ctx);
  const name = ctx.name || firstStr(driver['MachineName']);
  const inCerts = (file: string) => (root ? join(root, 'certs', file) : '');
  const inMachine = (file: string) => (root && name ? join(root, 'machines', name, file) : '');

  const auth: Obj = {
    ...nestedAuth,
    StorePath: machineDir ?? '',
    CaCertPath: firstSet(CaCertPath, nestedAuth['CaCertPath'], driver['CaCertPath']) ?? inCerts('ca.pem'),
    CaCertRemotePath: firstSet(nestedAuth['CaCertRemotePath']) ?? '',
    ServerCertPath: firstSet(ServerCertPath, nestedAuth['ServerCertPath']) ?? inMachine('server.pem'),
    ServerKeyPath: firstSet(ServerKeyPath, nestedAuth['ServerKeyPath']) ?? inMachine('server-key.pem'),
    ClientKeyPath: firstSet(ClientKeyPath, nestedAuth['ClientKeyPath']) ?? inCerts('key.pem'),
    ServerCertRemotePath: firstSet(nestedAuth['ServerCertRemotePath']) ?? '',
    ServerKeyRemotePath: firstSet(nestedAuth['ServerKeyRemotePath']) ?? '',
    PrivateKeyPath: firstSet(PrivateKeyPath, nestedAuth['PrivateKeyPath'], driver['PrivateKeyPath']) ?? inCerts('ca-key.pem'),
    ClientCertPath: firstSet(ClientCertPath, nestedAuth['ClientCertPath']) ?? inCerts('cert.pem'),
  };

  let swarm: Obj;
  if (isObj(nested['SwarmOptions'])) {
    swarm = { ...nested['SwarmOptions'] };
  } else {
    // Version 0 drivers kept their own copy of the swarm flags; the host's flat ones come first.
    const discovery = firstSet(SwarmDiscovery, driver['SwarmDiscovery']) ?? '';
    const master = firstSet(SwarmMaster, driver['SwarmMaster']) ?? false;
    swarm = {
      IsSwarm: discovery !== '' || master === true,
      Address: '',
      Discovery: discovery,
      Host: firstSet(SwarmHost, driver['SwarmHost']) ?? '',
      Master: master,
    };
  }

  let engine: Obj = {};
  if (isObj(nested['EngineOptions'])) {
    const { TlsVerify: _zeroValue, ...kept } = nested['EngineOptions'];
    engine = kept;
  }

  return {
    ...rest,
    ConfigVersion: 1,
    HostOptions: { ...nested, EngineOptions: engine, SwarmOptions: swarm, AuthOptions: auth },
    StorePath: machineDir ?? '',
  };
}

/**
 * 1 -> 2 (libmachine/host/migrate_v1_v2.go, MigrateHostV1ToHostV2): the store root is the
 * top-level StorePath's grandparent (<root>/machines/<name>); AuthOptions gains CertDir
 * (<root>/certs), PrivateKeyPath is renamed CaPrivateKeyPath, the top-level StorePath goes and
 * the host gets its Name (Docker Machine took the driver's MachineName, then its filestore
 * replaced it with the directory name, as we do).
 *
 * Where we differ: Docker Machine set AuthOptions.StorePath to the store root, while every
 * version it created itself holds <root>/machines/<name> there (commands/create.go) and its own
 * loader takes the root as that path's grandparent (libmachine/host/migrate.go). The machine
 * directory is written here, so a migrated config reads like a created one.
 */
export function migrateV1ToV2(h1: Obj, ctx: MigrationContext): Obj {
  const { StorePath: _machineDir, HostOptions, ...rest } = h1;
  const ho = obj(HostOptions);
  const { PrivateKeyPath, ...auth } = obj(ho['AuthOptions']);
  const root = storeRootOf(h1, ctx);
  const name = ctx.name || firstStr(h1['Name'], obj(h1['Driver'])['MachineName']) || '';
  return {
    ...rest,
    ConfigVersion: 2,
    HostOptions: {
      ...ho,
      AuthOptions: {
        ...auth,
        CertDir: firstSet(auth['CertDir']) ?? (root ? join(root, 'certs') : ''),
        CaPrivateKeyPath: firstSet(PrivateKeyPath, auth['CaPrivateKeyPath']) ?? '',
        StorePath: root && name ? join(root, 'machines', name) : '',
      },
    },
    Name: name,
  };
}

/**
 * 2 -> 3 (libmachine/host/migrate_v2_v3.go, MigrateHostV2ToHostV3): drivers did not store the
 * store root before, so the driver gets StorePath = the store root. (Its other change, keeping
 * the driver's raw JSON for driver plugins, is an in-memory detail: our drivers read Driver.)
 *
 * Where we differ:
 * - Docker Machine took the root from a top-level StorePath, which a version 2 file does not
 *   have, and so wrote "." (the TODO in its libmachine/host/migrate_test.go says as much). The
 *   root is derived here from whatever path the file does hold (see storeRootOf).
 * - Docker Machine's 1 -> 2 step left the store root in AuthOptions.StorePath (see
 *   migrateV1ToV2); in a version 2 file that holds the root it becomes the machine directory.
 * - Drivers before version 3 had no SSHKeyPath field; they used <machine dir>/id_rsa
 *   (drivers/generic/generic.go of that time), and Docker Machine 0.16's BaseDriver still falls
 *   back to that when SSHKeyPath is empty (libmachine/drivers/base.go). Our drivers read
 *   SSHKeyPath, so the fallback is written into it. The none driver has no SSH.
 */
export function migrateV2ToV3(h2: Obj, ctx: MigrationContext): Obj {
  const root = storeRootOf(h2, ctx);
  const name = firstStr(h2['Name'], ctx.name) ?? '';
  const driver: Obj = { ...obj(h2['Driver']), StorePath: root };
  if (!firstStr(driver['MachineName'])) driver['MachineName'] = name;
  if (!firstStr(driver['SSHKeyPath']) && h2['DriverName'] !== 'none' && root && name) {
    driver['SSHKeyPath'] = join(root, 'machines', name, 'id_rsa');
  }
  // A version 2 file that Docker Machine's own 1 -> 2 step wrote holds the root here (see
  // migrateV1ToV2); every reader of version 3 expects the machine directory.
  let hostOptions = h2['HostOptions'];
  const auth = obj(obj(hostOptions)['AuthOptions']);
  if (root && name && auth['StorePath'] === root) {
    hostOptions = { ...obj(hostOptions), AuthOptions: { ...auth, StorePath: join(root, 'machines', name) } };
  }
  return { ...h2, ConfigVersion: 3, Driver: driver, HostOptions: hostOptions, Name: name };
}

/**
 * The root of the store a config was written in, from the first path in it that tells:
 * the driver's StorePath (the root, from version 3 on), the top-level StorePath (the machine
 * directory, versions 0 and 1), AuthOptions.CertDir (<root>/certs, from version 2 on),
 * AuthOptions.StorePath (the machine directory, or the root where Docker Machine's 1 -> 2
 * migration put it), the CA certificate (<root>/certs/ca.pem); else the store it was read from.
 */
export function storeRootOf(h: Obj, ctx: MigrationContext): string {
  const driverRoot = firstStr(obj(h['Driver'])['StorePath']);
  if (driverRoot) return driverRoot;
  const machineDir = firstStr(h['StorePath']);
  if (machineDir) return dirname(dirname(machineDir));
  const auth = obj(obj(h['HostOptions'])['AuthOptions']);
  const certDir = firstStr(auth['CertDir']);
  if (certDir) return dirname(certDir);
  const authStore = firstStr(auth['StorePath']);
  if (authStore) return basename(dirname(authStore)) === 'machines' ? dirname(dirname(authStore)) : authStore;
  const ca = firstStr(auth['CaCertPath']);
  if (ca && basename(dirname(ca)) === 'certs') return dirname(dirname(ca));
  return ctx.storeRoot;
}

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Go wrote `null` for nil pointers; treat it, and anything not an object, as empty. */
function obj(x: unknown): Obj {
  return isObj(x) ? x : {};
}

/**
 * The first value that was set: Go wrote unset strings as "" and unset bools as false, so those
 * count as unset. A value of the wrong type is passed on for the schema to report.
 */
function firstSet(...values: unknown[]): unknown {
  return values.find((v) => v !== undefined && v !== null && v !== '' && v !== false);
}

/** The first non-empty string, for values the migration computes with. */
function firstStr(...values: unknown[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string' && v !== '');
}
