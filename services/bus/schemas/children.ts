import { z } from 'zod';
import { errorEventSchema } from './errorEvent.ts';

const healthCheckSchema = z.object({
  at: z.string(),
  ok: z.boolean(),
  attempt: z.number().int(),
  reason: z.string(),
  duration_ms: z.number(),
  status: z.number().int().optional(),
});

/** The public summary in every `child` transition record (machines/childProcess summarizeChildProcess). */
export const childContextSchema = z.object({
  name: z.string(),
  mode: z.enum(['spawn', 'external']),
  url: z.string(),
  health_url: z.string(),
  pid: z.number().int().nullable(),
  run: z.number().int(),
  ready_since: z.string().nullable(),
  restart_attempts: z.number().int(),
  restart_budget: z.object({ max: z.number().int(), window_ms: z.number().int(), restarts_at: z.array(z.string()) }),
  restart_delay_ms: z.number().nullable(),
  last_health_check: healthCheckSchema.nullable(),
  last_exit: z.object({ code: z.number().int().nullable(), signal: z.string().nullable(), at: z.string() }).nullable(),
  last_error: errorEventSchema.nullable(),
});
export type ChildContext = z.infer<typeof childContextSchema>;

/** Bucket `children`, key = token(name): the status of each supervised child. */
export const childEntrySchema = childContextSchema.extend({
  incarnation: z.string(),
  seq: z.number().int(),
  /** Full dotted state path (`starting.healthChecking.waiting`). */
  state: z.string(),
  ready: z.boolean(),
  /** Between a failure and the next ready: terminating, waiting out the delay, or starting again. */
  restarting: z.boolean(),
  updated_at: z.string(),
});
export type ChildEntry = z.infer<typeof childEntrySchema>;

/** `cmd.child.<token>` request body (hub → child supervisor). */
export const childCommandSchema = z.strictObject({ action: z.enum(['start', 'stop']) });
export type ChildCommand = z.infer<typeof childCommandSchema>;

/** Its reply: the HTTP status and body the hub answers with. */
export const childCommandReplySchema = z.object({ status: z.number().int(), body: z.unknown() });
