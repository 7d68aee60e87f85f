import { z } from 'zod';
import { errorEventSchema } from './errorEvent.ts';

const callSchema = z.object({
  method: z.string(),
  message: z.string(),
  purpose: z.enum(['poll', 'probe', 'trial']),
  ok: z.boolean(),
  at: z.string(),
  duration_ms: z.number(),
  code: z.string().optional(),
  reason: z.string().optional(),
  data: z.unknown().optional(),
});

export const CIRCUIT_STATES = ['closed', 'open', 'halfOpen', 'stopped'] as const;

/** The part of an `rpc` record's context the projector reads (machines/rpcPoller.ts summarizeRpcPoller). */
export const rpcContextSchema = z.object({
  poller: z.string().min(1),
  url: z.string(),
  circuit: z.enum(CIRCUIT_STATES),
  methods: z.array(z.object({ method: z.string(), message: z.string() })),
  consecutive_failures: z.number().int(),
  window: z.object({ calls: z.number().int(), failures: z.number().int(), failure_rate: z.number() }),
  opened_at: z.string().nullable(),
  recovered_at: z.string().nullable(),
  calls: z.number().int(),
  failures: z.number().int(),
  last_call: callSchema.nullable(),
  last_probe: callSchema.nullable(),
  last_failure: errorEventSchema.nullable(),
  error: errorEventSchema.nullable(),
});

/** Bucket `rpc_cache`, key token(poller): the poller's circuit and errors. */
export const rpcStatusEntrySchema = rpcContextSchema.omit({ last_call: true }).extend({
  state: z.string(),
  incarnation: z.string(),
  seq: z.number().int(),
  updated_at: z.string(),
});
export type RpcStatusEntry = z.infer<typeof rpcStatusEntrySchema>;

/** Bucket `rpc_cache`, key `token(poller).token(method)`: the latest good result of one method. */
export const rpcResultEntrySchema = z.object({
  poller: z.string(),
  method: z.string(),
  message: z.string(),
  data: z.unknown(),
  cached_at: z.string(),
  duration_ms: z.number(),
  incarnation: z.string(),
  seq: z.number().int(),
});
export type RpcResultEntry = z.infer<typeof rpcResultEntrySchema>;
