import type { BaseDriverConfig } from '../store/schema.js';

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
}

export type FlagValues = Record<string, FlagValue | undefined>;

export interface DriverLogger {
  /** A step the user sees during long work. */
  info(message: string): void;
  /** Every API call and command, shown with --debug. */
  debug(message: string): void;
}

export interface DriverContext {
  machineName: string;
  storePath: string;
  machineDir: string;
  log: DriverLogger;
  /** How long create may wait for the new machine to come up (--wait-timeout); drivers pick a default otherwise. */
  bootTimeoutMs?: number;
  /** A store-wide lock, for resources machines share (a network, a security group). */
  lock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** What persists under config.json's "Driver": libmachine's base fields plus the driver's own. */
export type DriverConfig = BaseDriverConfig & Record<string, unknown>;

/**
 * The one narrow interface every driver implements: it makes and controls a host and says
 * how to reach it. Everything above (provisioning, certificates, the store) is shared.
 */
export interface Driver {
  readonly name: string;
  /** The JSON saved as config.json "Driver". */
  config(): DriverConfig;
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
  /** The engine URL, tcp://HOST:PORT. */
  getURL(): Promise<string>;
  getSSHHostname(): Promise<string>;
  getSSHPort(): Promise<number>;
  getSSHUsername(): string;
  getSSHKeyPath(): string;
  /** Address other machines reach this one at (swarm advertise); defaults to getIP. */
  getPrivateIP?(): Promise<string>;
  /** A driver without SSH (none) cannot be provisioned. */
  readonly provisionable: boolean;
  /**
   * Where cloud-init installs the key during boot, sshd can answer before the key is in
   * place: authentication failures are retried for this long after create starts waiting.
   */
  readonly sshKeySettleMs?: number;
}

export interface DriverModule {
  readonly name: string;
  readonly flags: FlagSpec[];
  /** Builds a driver for a new machine (saved undefined) or from its saved config. */
  newDriver(ctx: DriverContext, saved?: DriverConfig): Driver;
}
