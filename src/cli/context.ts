import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { OptionSpecs, Parsed } from './args.js';

export interface Globals {
  debug: boolean;
  nativeSsh: boolean;
  storagePath: string;
  tlsCaCert: string;
  tlsCaKey: string;
  tlsClientCert: string;
  tlsClientKey: string;
}

export interface Cli {
  store: Store;
  globals: Globals;
  out(text: string): void;
  err(text: string): void;
  /** Progress steps with elapsed time (stdout) and --debug detail (stderr). */
  log: Logger;
  /** Aborted on Ctrl-C, SIGTERM or a closed terminal: the one interrupt handler is the CLI's. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  usage: string;
  description: string;
  options: OptionSpecs;
  /** For options that depend on other arguments (create's driver flags). */
  resolveOptions?(args: string[]): Promise<OptionSpecs>;
  /** Help that depends on the arguments (create's driver); otherwise built from the options. */
  help?(args: string[]): Promise<string>;
  /** ssh/scp pass everything after the machine name through untouched. */
  stopAtPositional?: number;
  /**
   * Its output is a function of the arguments, the environment, the files it reads and the
   * probes and engine calls it reports, and nothing else: the answer cache (answer-cache.ts)
   * may give it again. A run can still say no (ls of many machines) through the tap's pass().
   * The cache checks the files and the rest of the run itself; this is the command's word.
   */
  answerable?: true;
  run(cli: Cli, parsed: Parsed): Promise<number | void>;
}
