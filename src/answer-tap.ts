// What a command tells the answer cache (cli/answer-cache.ts) beyond the files it read, which
// the cache sees for itself. The cache is main's; this side is the core's, and the two
// bundles share no module, so main hands its tap to run() and the core reports through it.

/** host, port, the CA, client certificate and key files, and the version the engine named. */
export type EngineCall = [host: string, port: number, caPath: string, certPath: string, keyPath: string, version: string];

export interface AnswerTap {
  /** This run's command answers from what it read alone (Command.answerable), and succeeded. */
  answerable(): void;
  /** The answer holds only within this time (a certificate's validity), in ms since the epoch. */
  validWithin(fromMs: number, untilMs: number): void;
  /** A TCP reachability check and its result: the cache checks it again before answering. */
  probed(host: string, port: number, timeoutMs: number, open: boolean): void;
  /**
   * An engine call over TLS: GET /_ping on host:port with the client pair in these files, and
   * the version its Server header named; the cache asks it again before answering. undefined:
   * a call dropped before its answer, which the answer does not use.
   */
  engineCall(call: EngineCall | undefined): void;
  /** A file read only to go faster (TLS sessions): the answer does not depend on it. */
  speedOnly(path: string): void;
  /** This run's command is not answerable: the cache stops watching it at once. */
  pass(): void;
}

let tap: AnswerTap | undefined;

export function setAnswerTap(t: AnswerTap | undefined): void {
  tap = t;
}

/** The tap while the cache records this run, else undefined. */
export const answerTap = (): AnswerTap | undefined => tap;
