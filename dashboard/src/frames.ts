import { z } from 'zod';

/**
 * Every frame and REST answer the dashboard reads, parsed with zod (services/hub/wsMessages.ts,
 * ws/dashboardFeeds.ts, ws/rpcFeed.ts and routes/ describe the hub's side). Loose objects:
 * fields the hub adds later do not break an older page.
 */
export const envelopeSchema = z.looseObject({ type: z.string() });
export const projectionFrameSchema = z.looseObject({ type: z.string(), key: z.string(), value: z.unknown() });

/** An ErrorEvent as an actor entry or a flow carries it (details optional), or as /api/actor-errors shows it. */
export const errorSchema = z.looseObject({
  code: z.string(),
  message: z.string(),
  severity: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
  troubleshooting: z.array(z.string()).optional(),
});
export type ErrorInfo = z.infer<typeof errorSchema>;

/** The troubleshooting steps of an error, wherever it carries them. */
export function stepsOf(error: ErrorInfo | undefined | null): string[] {
  if (!error) return [];
  if (error.troubleshooting) return error.troubleshooting;
  const steps = error.details?.troubleshooting;
  return Array.isArray(steps) ? steps.map(String) : [];
}

export const actorSchema = z.looseObject({
  kind: z.string(),
  id: z.string(),
  state: z.string(),
  since: z.string(),
  seq: z.number().optional(),
  error: errorSchema.optional(),
});
export type Actor = z.infer<typeof actorSchema>;

export const actorErrorSchema = z.looseObject({ kind: z.string(), id: z.string(), state: z.string(), error: errorSchema });

export const FLOW_STATUSES = ['started', 'in progress', 'completed', 'failed'] as const;
export const flowSchema = z.looseObject({
  node_id: z.string(),
  command_id: z.string(),
  device_id: z.string(),
  status: z.enum(FLOW_STATUSES),
  error: errorSchema.optional(),
  accepted_at: z.string().optional(),
  updated_at: z.string(),
});
export type Flow = z.infer<typeof flowSchema>;

export const childSchema = z.looseObject({
  name: z.string(),
  state: z.string(),
  ready: z.boolean(),
  restarting: z.boolean(),
  restart_attempts: z.number(),
  restart_budget: z.looseObject({ max: z.number(), window_ms: z.number(), used: z.number() }),
  last_error: errorSchema.nullable(),
  uptime_ms: z.number().nullable(),
  last_health_check: z.looseObject({ at: z.string(), ok: z.boolean(), reason: z.string() }).nullable(),
  pid: z.number().nullable(),
  updated_at: z.string(),
});
export type Child = z.infer<typeof childSchema>;

export const meshNodeSchema = z.looseObject({
  link: z.string(),
  num: z.number(),
  id: z.string(),
  long_name: z.string(),
  short_name: z.string(),
  key_status: z.enum(['ok', 'missing', 'changed']),
  public_key: z.string().nullable(),
  reported_key: z.string().nullable(),
  last_heard: z.string().nullable(),
  updated_at: z.string(),
});
export type MeshNode = z.infer<typeof meshNodeSchema>;

const record = z.record(z.string(), z.unknown());
export const sessionSchema = z.looseObject({
  session_id: z.string(),
  publisher: record.nullable(),
  setup: record.nullable(),
  telemetry: record.nullable(),
  gap: record.nullable(),
});
export type Session = z.infer<typeof sessionSchema>;

/** An RPC poller's data message (`system_status`, `storage_update`, …): data with its stale flag. */
export const rpcDataSchema = z.looseObject({
  type: z.string(),
  poller: z.string(),
  method: z.string(),
  data: z.unknown(),
  is_stale: z.boolean(),
  cached_at: z.string().optional(),
  error: errorSchema.optional(),
  no_data: z.boolean().optional(),
});
export type RpcData = z.infer<typeof rpcDataSchema>;
/** `rpc_error` (RPC_FAILURE, CIRCUIT_OPEN) and `notification` (RPC_RECOVERED) about a poller. */
export const rpcNoticeSchema = z.looseObject({ type: z.string(), code: z.string(), poller: z.string(), message: z.string() });

/** Parses a list answer element by element; elements that do not parse are dropped. */
export function parseList<T>(schema: z.ZodType<T>, value: unknown): T[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((v) => {
    const r = schema.safeParse(v);
    return r.success ? [r.data] : [];
  });
}
