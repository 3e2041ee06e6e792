import type { Logger } from '../log.js';
import type { BaseSettings } from './settings.js';

export type MachineState =
  | 'None'
  | 'Running'
  | 'Paused'
  | 'Saved'
  | 'Stopped'
  | 'Stopping'
  | 'Starting'
  | 'Error'
  | 'Timeout';

export type FlagValue = string | number | boolean | string[];

/** A driver declares its own create flags; the CLI parses them and hands them back. */
export interface FlagSpec {
  name: string;
  type: 'string' | 'int' | 'bool' | 'stringArray';
  description: string;
  default?: FlagValue;
  env?: string;
  /** Smallest value an int flag takes; 0 unless set (Docker Machine's -1 = "all CPUs"). */
  min?: number;
  /** The driver refuses to create without it: the guided create on a terminal asks for it. */
  required?: boolean;
}

/** Create flags as parsed by the CLI: ints are numbers, repeatable flags lists. */
export type FlagValues = { readonly [flag: string]: FlagValue | undefined };

export interface DriverContext {
  machineName: string;
  storePath: string;
  machineDir: string;
  log: Logger;
  /** How long create may wait for the new machine to come up (--wait-timeout); drivers pick a default otherwise. */
  bootTimeoutMs?: number;
  /** Aborted when the user interrupts (Ctrl-C): long waits stop early, rollback follows. */
  signal?: AbortSignal;
  /** A store-wide lock, for resources machines share (a network, a security group). */
  lock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /**
   * During create: writes the driver's settings to the machine's record now. A driver calls
   * it the moment it learns the id of something it made, so that a crash (kill -9) leaves a
   * record `rm` can finish from.
   */
  saveProgress?(): Promise<void>;
}

/**
 * The one narrow interface every driver implements: it makes and controls a host and says
 * how to reach it. Everything above (provisioning, certificates, the store) is shared.
 * S is the driver's settings, saved as config.json's "Driver".
 */
export interface Driver<S extends BaseSettings = BaseSettings> {
  readonly name: string;
  /** The settings saved as config.json "Driver". */
  config(): S;
  /** Reads create flags; validates them before anything is made. */
  setConfigFromFlags(flags: FlagValues): Promise<void> | void;
  preCreateCheck(): Promise<void>;
  create(): Promise<void>;
  /** Deletes what create made; must succeed on a half-made machine too. */
  remove(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  kill(): Promise<void>;
  getState(): Promise<MachineState>;
  /**
   * A state `ls` can afford: without the provider's API (whose SDK must stay off that fast
   * path). Drivers whose getState is already cheap leave it out.
   */
  quickState?(): Promise<MachineState>;
  getIP(): Promise<string>;
  /** The engine URL, tcp://HOST:PORT, as the docker CLI on this computer dials it. */
  getURL(): Promise<string>;
  /** The port dockerd listens on inside the host (the URL's port differs where a driver forwards it). */
  enginePort(): number;
  getSSHHostname(): Promise<string>;
  getSSHPort(): Promise<number>;
  getSSHUsername(): string;
  getSSHKeyPath(): string;
  /** Address other machines reach this one at (swarm advertise); defaults to getIP. */
  getPrivateIP?(): Promise<string>;
  /** What `rm` deletes besides the record, for its confirmation ("instance i-0abc, key pair k"). */
  describeRemoval?(): string;
  /** A driver without SSH (none) cannot be provisioned. */
  readonly provisionable: boolean;
  /**
   * getURL reads the saved settings only (no process, no provider API, whatever the state):
   * `ls` then asks the engine for its version while the state is still being checked.
   */
  readonly urlFromRecord?: boolean;
  /**
   * The host existed before create and outlives rm (generic): a failed create puts back what
   * provisioning changed on it, where other drivers remove the host they made.
   */
  readonly existingHost?: boolean;
  /** False where start, stop, restart and kill are not the driver's to do (generic, none): refused whatever the state. */
  readonly powerControl?: boolean;
  /**
   * Where cloud-init installs the key during boot, sshd can answer before the key is in
   * place: authentication failures are retried for this long after create starts waiting.
   */
  readonly sshKeySettleMs?: number;
}

export interface DriverModule<S extends BaseSettings = BaseSettings> {
  /** The plugin API this module was written against (PLUGIN_API_VERSION); the loader checks it. */
  readonly apiVersion: number;
  readonly name: string;
  readonly flags: FlagSpec[];
  /**
   * Checks a saved "Driver" block and returns it typed; throws SettingsError naming the
   * field that is wrong (the loader adds the file).
   */
  readSettings(raw: unknown): S;
  /** Builds a driver for a new machine (saved undefined) or from its checked settings. */
  newDriver(ctx: DriverContext, saved?: S): Driver<S>;
  /**
   * For `ls`: the states of many of this driver's machines at once (one API call where the
   * provider allows it, instead of one per machine), in the order given; an Error for a
   * machine whose state could not be had. Drivers without it are asked one by one.
   */
  listStates?(drivers: Driver<S>[]): Promise<Array<MachineState | Error>>;
}

/**
 * The version of the interfaces above. A plugin declares the one it was written against; a
 * change that breaks plugins bumps it, and the loader refuses a plugin that does not match.
 */
export const PLUGIN_API_VERSION = 1;
