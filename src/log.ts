/**
 * What long work reports through: steps a user sees, and detail shown with --debug. The CLI
 * makes one (cli/progress.ts: timestamped lines, a live display on a terminal, or JSON
 * events); everything below only calls it.
 */
export interface Logger {
  /** A step the user sees during long work; `lane` names the machine when several work at once. */
  info(message: string, lane?: string): void;
  /** Every API call and command, shown with --debug. */
  debug(message: string): void;
  /** How far the current step is: a download's bytes, or what an install is doing now. */
  progress?(done: StepProgress, lane?: string): void;
}

export interface StepProgress {
  bytes?: number;
  total?: number;
  /** The current detail ("unpacking docker.io"). */
  detail?: string;
}

export const silentLogger: Logger = { info: () => undefined, debug: () => undefined };

/** A logger for one machine's work among several at once: its steps go on its own lane. */
export function prefixedLogger(log: Logger, prefix: string): Logger {
  return {
    info: (m) => log.info(m, prefix),
    debug: (m) => log.debug(`${prefix}: ${m}`),
    ...(log.progress ? { progress: (d: StepProgress) => log.progress!(d, prefix) } : {}),
  };
}
