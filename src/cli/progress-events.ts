// The JSON event stream of --progress=json: one object per line on stderr. A stable
// interface for other tools (README "JSON interfaces"); fields are only ever added.
import * as v from 'valibot';

export const PROGRESS_STATUSES = ['started', 'progress', 'done', 'error', 'log'] as const;

export const ProgressEventSchema = v.strictObject({
  /** When, ISO 8601 UTC. */
  time: v.pipe(v.string(), v.isoTimestamp()),
  /** The machine the event is about; null for the command as a whole. */
  machine: v.nullable(v.string()),
  /** The step, as the plain output words it ("Provisioning with debian..."); "command" for the end. */
  step: v.string(),
  /**
   * started: a step begins (the previous one of the same machine is then done); progress: a
   * counted step moved; done: a step (or, with step "command", the whole command) succeeded;
   * error: it failed, with `error`; log: a --debug line, in `message`.
   */
  status: v.picklist(PROGRESS_STATUSES),
  /** Seconds since the command started. */
  elapsed: v.number(),
  bytes: v.optional(v.number()),
  total: v.optional(v.number()),
  percent: v.optional(v.number()),
  error: v.optional(v.string()),
  message: v.optional(v.string()),
});

export type ProgressEvent = v.InferOutput<typeof ProgressEventSchema>;
