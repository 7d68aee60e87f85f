import { assign, fromPromise, setup } from 'xstate';
import { rateTripped, recordOutcome, windowStats, type CallOutcome } from './lib/circuitWindow.ts';
import { createErrorEvent, type ErrorEvent } from './lib/errorEvent.ts';

/**
 * The poller of one JSON-RPC 2.0 backend (kind `rpc`) with its circuit breaker as states.
 * Pure: every call goes through the named actor `callMethod` (one HTTP request, which the
 * poller service provides with `machine.provide(...)`); time through named delays.
 *
 *   closed.calling ─(each method of the cycle, one call at a time)─► closed.waiting ─interval─► closed.calling
 *      │ failureThreshold consecutive failures, or failure rate ≥ threshold over the window (≥ minimumCalls)
 *      ▼
 *   open.waiting ─probeInterval─► open.probing (health method; informative) ─► open.waiting
 *      │ openDuration
 *      ▼
 *   halfOpen.trying ─ success, halfOpenProbes in a row ─► closed.calling   (RPC_RECOVERED)
 *      └─ any failure ─► open                                            (CIRCUIT_OPEN)
 *   any ─poller.stop─► stopped
 *
 * A call slower than slowCallMs counts as a failure (its data is still kept: it is good
 * data, merely late). Every failed call sets `lastFailure` (RPC_FAILURE, naming the method
 * and reason); opening sets `error` to CIRCUIT_OPEN; closing clears it and sets recoveredAt.
 */

export interface RpcPollerTiming {
  /** From the end of one poll cycle to the start of the next. */
  intervalMs: number;
  /** One call, at most (the service aborts the request). */
  callTimeoutMs: number;
  /** A call slower than this counts as a failure. */
  slowCallMs: number;
  /** Consecutive failed calls that open the circuit. */
  failureThreshold: number;
  /** A failure rate at or over this (0 … 1) within windowMs opens the circuit … */
  failureRateThreshold: number;
  /** … once the window holds at least this many calls. */
  minimumCalls: number;
  windowMs: number;
  /** The circuit stays open this long, then lets trial calls through (half-open). */
  openDurationMs: number;
  /** While open, the health method is called this often (it does not close the circuit). */
  probeIntervalMs: number;
  /** Trial calls in half-open; all must succeed to close the circuit. */
  halfOpenProbes: number;
}

export const DEFAULT_RPC_TIMING: RpcPollerTiming = {
  intervalMs: 5_000,
  callTimeoutMs: 3_000,
  slowCallMs: 2_000,
  failureThreshold: 3,
  failureRateThreshold: 0.5,
  minimumCalls: 10,
  windowMs: 60_000,
  openDurationMs: 30_000,
  probeIntervalMs: 10_000,
  halfOpenProbes: 2,
};

/** One polled method and the WebSocket message type its result goes out as. */
export interface PolledMethod {
  method: string;
  message: string;
  params?: unknown[] | Record<string, unknown>;
}

export interface RpcPollerInput {
  poller: string;
  url: string;
  methods: PolledMethod[];
  /** The method called by the health probes while open (default: the first). */
  healthMethod?: string;
  timing?: Partial<RpcPollerTiming>;
  now?: () => number;
}

export interface RpcCallInput {
  method: string;
  params?: unknown[] | Record<string, unknown>;
  timeoutMs: number;
  purpose: 'poll' | 'probe' | 'trial';
}

export type RpcFailureCode = 'CONNECTION_REFUSED' | 'CONNECTION_FAILED' | 'TIMEOUT' | 'HTTP_ERROR' | 'INVALID_RESPONSE' | 'RPC_ERROR' | 'SLOW_CALL';

/** What `callMethod` resolves with; it never rejects (a rejection is treated as CONNECTION_FAILED). */
export type RpcCallResult =
  | { ok: true; data: unknown; durationMs: number }
  | { ok: false; code: Exclude<RpcFailureCode, 'SLOW_CALL'>; reason: string; durationMs: number };

export interface CallRecord {
  method: string;
  message: string;
  purpose: RpcCallInput['purpose'];
  ok: boolean;
  at: number;
  durationMs: number;
  code?: RpcFailureCode;
  reason?: string;
  /** The result, when the backend answered one (also for a slow call). */
  data?: unknown;
  hasData: boolean;
}

export interface RpcPollerContext {
  poller: string;
  url: string;
  methods: PolledMethod[];
  healthMethod: string;
  timing: RpcPollerTiming;
  now: () => number;
  /** Index in `methods` of the next call of the cycle. */
  methodIndex: number;
  consecutiveFailures: number;
  window: CallOutcome[];
  halfOpenSuccesses: number;
  openedAt: number | null;
  recoveredAt: number | null;
  calls: number;
  failures: number;
  lastCall: CallRecord | null;
  lastProbe: CallRecord | null;
  /** RPC_FAILURE of the latest failed call. */
  lastFailure: ErrorEvent | null;
  /** The breaker's current problem: RPC_FAILURE while closed, CIRCUIT_OPEN while open/half-open; null when healthy. */
  error: ErrorEvent | null;
}

export type RpcPollerEvent = { type: 'poller.stop' };

const COMPONENT = 'rpc-poller';

type DoneEvent = { type: string; output?: RpcCallResult; error?: unknown };

/** The call's result as a CallRecord: a rejection, a failure and a slow success all count as failures. */
export function callRecordOf(context: RpcPollerContext, method: PolledMethod, purpose: RpcCallInput['purpose'], event: DoneEvent): CallRecord {
  const at = context.now();
  const base = { method: method.method, message: method.message, purpose, at };
  const result = event.output;
  if (!result) {
    const reason = event.error instanceof Error ? event.error.message : String(event.error ?? 'call failed');
    return { ...base, ok: false, durationMs: 0, code: 'CONNECTION_FAILED', reason, hasData: false };
  }
  if (!result.ok) return { ...base, ok: false, durationMs: result.durationMs, code: result.code, reason: result.reason, hasData: false };
  if (result.durationMs > context.timing.slowCallMs) {
    const reason = `slow call: ${result.durationMs} ms > ${context.timing.slowCallMs} ms`;
    return { ...base, ok: false, durationMs: result.durationMs, code: 'SLOW_CALL', reason, data: result.data, hasData: true };
  }
  return { ...base, ok: true, durationMs: result.durationMs, data: result.data, hasData: true };
}

function failureEvent(context: RpcPollerContext, call: CallRecord, consecutive: number): ErrorEvent {
  return createErrorEvent({
    code: 'RPC_FAILURE',
    message: `${context.poller}: ${call.method} failed: ${call.reason ?? 'unknown'}`,
    component: COMPONENT,
    severity: 'warning',
    retryable: true,
    at: call.at,
    details: { poller: context.poller, method: call.method, reason: call.reason, failure: call.code, duration_ms: call.durationMs, purpose: call.purpose, consecutive_failures: consecutive },
  });
}

const currentMethod = (c: RpcPollerContext): PolledMethod => c.methods[c.methodIndex % c.methods.length]!;
const healthMethodOf = (c: RpcPollerContext): PolledMethod => c.methods.find((m) => m.method === c.healthMethod) ?? c.methods[0]!;

/** The input of one call: the cycle's current method (poll, trial) or the health method (probe). */
function callInput(context: RpcPollerContext, purpose: RpcCallInput['purpose']): RpcCallInput {
  const m = purpose === 'probe' ? healthMethodOf(context) : currentMethod(context);
  return { method: m.method, ...(m.params !== undefined ? { params: m.params } : {}), timeoutMs: context.timing.callTimeoutMs, purpose };
}

/** Whether a closed circuit opens with this failure. */
function trips(context: RpcPollerContext, call: CallRecord): 'consecutive' | 'failure_rate' | null {
  if (call.ok) return null;
  if (context.consecutiveFailures + 1 >= context.timing.failureThreshold) return 'consecutive';
  const window = recordOutcome(context.window, { at: call.at, ok: false }, context.timing.windowMs);
  return rateTripped(window, call.at, context.timing) ? 'failure_rate' : null;
}

/** The context after a call (the counters, the window, the failure event). */
function afterCall(context: RpcPollerContext, call: CallRecord): Partial<RpcPollerContext> {
  const consecutive = call.ok ? 0 : context.consecutiveFailures + 1;
  const update: Partial<RpcPollerContext> = {
    lastCall: call,
    calls: context.calls + 1,
    failures: context.failures + (call.ok ? 0 : 1),
    consecutiveFailures: consecutive,
    window: recordOutcome(context.window, { at: call.at, ok: call.ok }, context.timing.windowMs),
  };
  if (!call.ok) update.lastFailure = failureEvent(context, call, consecutive);
  return update;
}

/** A poll call's end, resolved or (it should not) rejected: open, next method, or wait for the next cycle. */
const afterPoll = [
  { guard: 'pollTrips', target: '#rpcPoller.open', actions: ['recordPoll', 'openCircuit'] },
  { guard: 'moreInCycle', target: 'calling', reenter: true, actions: 'recordPoll' },
  { target: 'waiting', actions: 'recordPoll' },
] as const;

export const rpcPollerMachine = setup({
  types: {
    context: {} as RpcPollerContext,
    events: {} as RpcPollerEvent,
    input: {} as RpcPollerInput,
  },
  actors: {
    /** Provided by the poller service: one JSON-RPC request over HTTP; never rejects. */
    callMethod: fromPromise<RpcCallResult, RpcCallInput>(async () => {
      throw new Error('callMethod is provided by the rpc poller service');
    }),
  },
  actions: {
    recordPoll: assign(({ context, event }) => {
      const call = callRecordOf(context, currentMethod(context), 'poll', event as DoneEvent);
      const update = afterCall(context, call);
      // while closed, the problem is the latest failure until a call succeeds again
      return { ...update, methodIndex: (context.methodIndex + 1) % context.methods.length, error: call.ok ? null : update.lastFailure! };
    }),
    openCircuit: assign(({ context }) => {
      const at = context.now();
      const stats = windowStats(context.window, at, context.timing.windowMs);
      const why = context.consecutiveFailures >= context.timing.failureThreshold ? 'consecutive_failures' : 'failure_rate';
      return {
        openedAt: at,
        halfOpenSuccesses: 0,
        error: createErrorEvent({
          code: 'CIRCUIT_OPEN',
          message:
            why === 'consecutive_failures'
              ? `${context.poller}: circuit open after ${context.consecutiveFailures} consecutive failures (last: ${context.lastFailure?.message ?? '?'}); retrying in ${context.timing.openDurationMs} ms`
              : `${context.poller}: circuit open, failure rate ${Math.round(stats.failureRate * 100)} % over ${stats.calls} calls; retrying in ${context.timing.openDurationMs} ms`,
          component: COMPONENT,
          severity: 'error',
          retryable: true,
          at,
          details: {
            poller: context.poller,
            url: context.url,
            reason: why,
            consecutive_failures: context.consecutiveFailures,
            failure_rate: stats.failureRate,
            window_calls: stats.calls,
            open_ms: context.timing.openDurationMs,
            last_failure: context.lastFailure ? { message: context.lastFailure.message, details: context.lastFailure.details } : null,
          },
        }),
      };
    }),
    recordProbe: assign(({ context, event }) => {
      const probe = callRecordOf(context, healthMethodOf(context), 'probe', event as DoneEvent);
      return {
        lastProbe: probe,
        calls: context.calls + 1,
        failures: context.failures + (probe.ok ? 0 : 1),
        ...(probe.ok ? {} : { lastFailure: failureEvent(context, probe, context.consecutiveFailures) }),
      };
    }),
    recordTrial: assign(({ context, event }) => {
      const call = callRecordOf(context, currentMethod(context), 'trial', event as DoneEvent);
      return {
        ...afterCall(context, call),
        methodIndex: (context.methodIndex + 1) % context.methods.length,
        halfOpenSuccesses: call.ok ? context.halfOpenSuccesses + 1 : 0,
      };
    }),
    closeCircuit: assign(({ context }) => ({
      error: null,
      openedAt: null,
      halfOpenSuccesses: 0,
      consecutiveFailures: 0,
      // the failures that opened the circuit do not count against the recovered backend
      window: [],
      recoveredAt: context.now(),
    })),
  },
  guards: {
    pollTrips: ({ context, event }) => trips(context, callRecordOf(context, currentMethod(context), 'poll', event as DoneEvent)) !== null,
    /** The cycle has methods left after this call. */
    moreInCycle: ({ context }) => context.methodIndex + 1 < context.methods.length,
    trialFailed: ({ context, event }) => !callRecordOf(context, currentMethod(context), 'trial', event as DoneEvent).ok,
    lastTrial: ({ context }) => context.halfOpenSuccesses + 1 >= context.timing.halfOpenProbes,
  },
  delays: {
    interval: ({ context }) => context.timing.intervalMs,
    openDuration: ({ context }) => context.timing.openDurationMs,
    probeInterval: ({ context }) => context.timing.probeIntervalMs,
  },
}).createMachine({
  id: 'rpcPoller',
  context: ({ input }) => {
    if (input.methods.length === 0) throw new Error('rpcPoller: at least one method');
    return {
      poller: input.poller,
      url: input.url,
      methods: input.methods,
      healthMethod: input.healthMethod ?? input.methods[0]!.method,
      timing: { ...DEFAULT_RPC_TIMING, ...input.timing },
      now: input.now ?? Date.now,
      methodIndex: 0,
      consecutiveFailures: 0,
      window: [],
      halfOpenSuccesses: 0,
      openedAt: null,
      recoveredAt: null,
      calls: 0,
      failures: 0,
      lastCall: null,
      lastProbe: null,
      lastFailure: null,
      error: null,
    };
  },
  initial: 'closed',
  on: { 'poller.stop': '.stopped' },
  states: {
    closed: {
      initial: 'calling',
      states: {
        calling: {
          invoke: {
            id: 'call',
            src: 'callMethod',
            input: ({ context }) => callInput(context, 'poll'),
            onDone: afterPoll,
            onError: afterPoll,
          },
        },
        waiting: {
          after: { interval: 'calling' },
        },
      },
    },
    open: {
      initial: 'waiting',
      after: { openDuration: 'halfOpen' },
      states: {
        waiting: {
          after: { probeInterval: 'probing' },
        },
        probing: {
          invoke: {
            id: 'probe',
            src: 'callMethod',
            input: ({ context }) => callInput(context, 'probe'),
            onDone: { target: 'waiting', actions: 'recordProbe' },
            onError: { target: 'waiting', actions: 'recordProbe' },
          },
        },
      },
    },
    halfOpen: {
      initial: 'trying',
      states: {
        trying: {
          invoke: {
            id: 'trial',
            src: 'callMethod',
            input: ({ context }) => callInput(context, 'trial'),
            onDone: [
              { guard: 'trialFailed', target: '#rpcPoller.open', actions: ['recordTrial', 'openCircuit'] },
              { guard: 'lastTrial', target: '#rpcPoller.closed', actions: ['recordTrial', 'closeCircuit'] },
              { target: 'trying', reenter: true, actions: 'recordTrial' },
            ],
            onError: { target: '#rpcPoller.open', actions: ['recordTrial', 'openCircuit'] },
          },
        },
      },
    },
    stopped: {},
  },
});

export type RpcPollerMachine = typeof rpcPollerMachine;
export type CircuitState = 'closed' | 'open' | 'halfOpen' | 'stopped';

/** The public summary that goes into every transition record of a poller (the projector reads it). */
export function summarizeRpcPoller(context: RpcPollerContext, circuit: CircuitState) {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const call = (c: CallRecord | null, withData: boolean) =>
    c && {
      method: c.method,
      message: c.message,
      purpose: c.purpose,
      ok: c.ok,
      at: iso(c.at)!,
      duration_ms: c.durationMs,
      ...(c.code ? { code: c.code } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
      ...(withData && c.hasData ? { data: c.data ?? null } : {}),
    };
  const stats = windowStats(context.window, context.now(), context.timing.windowMs);
  return {
    poller: context.poller,
    url: context.url,
    circuit,
    methods: context.methods.map((m) => ({ method: m.method, message: m.message })),
    consecutive_failures: context.consecutiveFailures,
    window: { calls: stats.calls, failures: stats.failures, failure_rate: stats.failureRate },
    half_open_successes: context.halfOpenSuccesses,
    opened_at: iso(context.openedAt),
    recovered_at: iso(context.recoveredAt),
    calls: context.calls,
    failures: context.failures,
    /** With the result (`data`) when the backend answered one: the projector caches it in rpc_cache. */
    last_call: call(context.lastCall, true),
    last_probe: call(context.lastProbe, false),
    last_failure: context.lastFailure,
    error: context.error,
  };
}

export type RpcPollerSummary = ReturnType<typeof summarizeRpcPoller>;
