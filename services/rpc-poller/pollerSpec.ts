import { z } from 'zod';
import { DEFAULT_RPC_TIMING as D, type PolledMethod, type RpcPollerTiming } from '../../machines/rpcPoller.ts';

/** The WebSocket message type each default method's result goes out as. */
export const DEFAULT_MESSAGE_OF_METHOD: Record<string, string> = {
  system_status: 'system_status',
  storage_info: 'storage_update',
  agent_status: 'agent_status',
  compression_jobs: 'compression_update',
};
export const DATA_MESSAGE_TYPES = ['system_status', 'storage_update', 'agent_status', 'compression_update'] as const;
export type DataMessageType = (typeof DATA_MESSAGE_TYPES)[number];

const methodName = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, "_", ".", ":", "-" (at most 64)');
const positive = (fallback: number) => z.number().int().positive().default(fallback);

/** A method: its name (a default method) or `{method, message, params}`. */
const methodSchema = z.union([
  methodName.refine((m) => m in DEFAULT_MESSAGE_OF_METHOD, {
    message: `a method given by name must be one of ${Object.keys(DEFAULT_MESSAGE_OF_METHOD).join(', ')}; give others as {"method","message"}`,
  }),
  z.strictObject({
    method: methodName,
    message: z.enum(DATA_MESSAGE_TYPES),
    params: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).optional(),
  }),
]);

/**
 * One RPC poller in lifeline.config.json (`pollers: [...]`): a JSON-RPC 2.0 backend polled
 * over HTTP, behind a circuit breaker. Durations in ms; every option but `name` and `url`
 * has a default (the rpcPoller machine's), e.g.
 *
 *     { "pollers": [{ "name": "backend", "url": "http://127.0.0.1:7072/rpc" }] }
 */
export const pollerSpecSchema = z
  .strictObject({
    /** The poller's id: `conn.rpc.<name>.…`, `rpc_cache` keys `<name>` and `<name>.<method>`. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, ".", "-" and "_" (at most 64), starting with a letter or digit'),
    url: z.url({ protocol: /^https?$/ }),
    methods: z.array(methodSchema).min(1).default(Object.keys(DEFAULT_MESSAGE_OF_METHOD)),
    /** Called by the health probes while the circuit is open (default: the first method). */
    healthMethod: methodName.optional(),
    intervalMs: positive(D.intervalMs),
    callTimeoutMs: positive(D.callTimeoutMs),
    slowCallMs: positive(D.slowCallMs),
    failureThreshold: positive(D.failureThreshold),
    failureRateThreshold: z.number().gt(0).max(1).default(D.failureRateThreshold),
    minimumCalls: positive(D.minimumCalls),
    windowMs: positive(D.windowMs),
    openDurationMs: positive(D.openDurationMs),
    probeIntervalMs: positive(D.probeIntervalMs),
    halfOpenProbes: positive(D.halfOpenProbes),
    /** A result larger than this (JSON bytes) is a failure: it would not fit a record. */
    maxResultBytes: positive(256 * 1024),
  })
  .refine((s) => s.slowCallMs <= s.callTimeoutMs, { message: 'slowCallMs must not exceed callTimeoutMs', path: ['slowCallMs'] })
  .refine((s) => !s.healthMethod || s.methods.some((m) => (typeof m === 'string' ? m : m.method) === s.healthMethod), {
    message: 'healthMethod must be one of the polled methods',
    path: ['healthMethod'],
  });
export type PollerSpec = z.infer<typeof pollerSpecSchema>;
export type PollerSpecInput = z.input<typeof pollerSpecSchema>;

export function polledMethodsOf(spec: PollerSpec): PolledMethod[] {
  return spec.methods.map((m) => (typeof m === 'string' ? { method: m, message: DEFAULT_MESSAGE_OF_METHOD[m]! } : m));
}

export function pollerTimingOf(spec: PollerSpec): RpcPollerTiming {
  const { intervalMs, callTimeoutMs, slowCallMs, failureThreshold, failureRateThreshold, minimumCalls, windowMs, openDurationMs, probeIntervalMs, halfOpenProbes } = spec;
  return { intervalMs, callTimeoutMs, slowCallMs, failureThreshold, failureRateThreshold, minimumCalls, windowMs, openDurationMs, probeIntervalMs, halfOpenProbes };
}
