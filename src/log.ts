/**
 * What long work reports through: steps a user sees, and detail shown with --debug. The CLI
 * makes one (timestamps on stdout, debug lines on stderr); everything below only calls it.
 */
export interface Logger {
  /** A step the user sees during long work. */
  info(message: string): void;
  /** Every API call and command, shown with --debug. */
  debug(message: string): void;
}

export const silentLogger: Logger = { info: () => undefined, debug: () => undefined };

/** Each line prefixed with the machine's name, for work on several machines at once. */
export function prefixedLogger(log: Logger, prefix: string): Logger {
  return { info: (m) => log.info(`${prefix}: ${m}`), debug: (m) => log.debug(`${prefix}: ${m}`) };
}
