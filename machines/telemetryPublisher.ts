import { assign, enqueueActions, fromCallback, fromPromise, setup } from 'xstate';
import { fullJitterDelay, type RandomSource } from './lib/backoff.ts';
import { createErrorEvent, type ErrorEvent } from './lib/errorEvent.ts';

/**
 * A race monitor's link to the server (kind `telemetry`, id = the session id). Pure: the
 * NATS connection is the invoked actor `connect` (one attempt, the client's own reconnect
 * off) plus `link` (watches that connection, measures round trips, closes it when the
 * machine leaves `connected`); publishing is `publishSetup` and the `sender` child.
 *
 *   connecting ─connect done─► connected.{sendingSetup ─► streaming}
 *       │ connect failed            │ link.lost / publish failed
 *       ▼                           ▼
 *   reconnecting ◄──────────────────┘   (backoff: full jitter, initial·2^(n−1) ≤ max)
 *       └─backoff─► connecting           any ─publisher.stop─► stopped
 *
 * Telemetry is buffered in the context (bounded: past `bufferCapacity` the oldest sample
 * is dropped and counted into a gap notice, published before the next samples), and
 * published in order while `streaming`, at most `publishBatchMax` at a time; a sample
 * leaves the buffer only once its batch is stored. Setup is sent first after every
 * connect. Data flow never changes the state, so a sample produces no transition record.
 */

export interface PublisherTiming {
  reconnectDelayInitialMs: number;
  reconnectDelayMaxMs: number;
  /** Connected this long → the attempt count resets. */
  stableAfterMs: number;
  /** Round-trip measurement cadence. */
  pingIntervalMs: number;
  bufferCapacity: number;
  publishBatchMax: number;
}

export const DEFAULT_PUBLISHER_TIMING: PublisherTiming = {
  reconnectDelayInitialMs: 1_000,
  reconnectDelayMaxMs: 60_000,
  stableAfterMs: 10_000,
  pingIntervalMs: 2_000,
  bufferCapacity: 10_000,
  publishBatchMax: 256,
};

export interface TelemetrySample {
  seq: number;
  at: string;
  data: Record<string, unknown>;
}

export interface GapNotice {
  dropped: number;
  first_seq: number;
  last_seq: number;
}

export type OutboundMessage = { kind: 'gap'; gap: GapNotice; dropped_total: number } | { kind: 'data'; sample: TelemetrySample };

interface InFlight {
  gap: GapNotice | null;
  samples: TelemetrySample[];
}

export interface LinkQuality {
  rtt_ms: number | null;
  pings: number;
  lost: number;
}

export interface TelemetryPublisherContext {
  sessionId: string;
  timing: PublisherTiming;
  random: RandomSource;
  setup: Record<string, unknown> | null;
  buffer: TelemetrySample[];
  nextSeq: number;
  gap: GapNotice | null;
  inFlight: InFlight | null;
  droppedTotal: number;
  published: number;
  /** Consecutive failed connection attempts (reset after stableAfterMs connected). */
  attempt: number;
  retryInMs: number;
  connections: number;
  quality: LinkQuality;
  error: ErrorEvent | undefined;
  now: () => number;
}

export interface TelemetryPublisherInput {
  sessionId: string;
  setup?: Record<string, unknown> | null;
  timing?: Partial<PublisherTiming>;
  random?: RandomSource;
  now?: () => number;
}

export type TelemetryPublisherEvent =
  | { type: 'telemetry'; data: Record<string, unknown>; at?: string }
  | { type: 'setup'; setup: Record<string, unknown> }
  | { type: 'link.lost'; message: string }
  | { type: 'ping.result'; rttMs: number }
  | { type: 'ping.lost' }
  | { type: 'sender.ready' }
  | { type: 'batch.stored'; lastSeq: number; count: number }
  | { type: 'batch.failed'; message: string }
  | { type: 'publisher.stop' };

export type SenderCommand = { type: 'send'; messages: OutboundMessage[]; lastSeq: number };

export interface ConnectInput {
  sessionId: string;
  attempt: number;
}

/** "Connection failed (attempt 2): … retrying in 2.0 s" */
export function retryMessage(context: Pick<TelemetryPublisherContext, 'attempt' | 'retryInMs' | 'error'>): string {
  return `Connection failed (attempt ${context.attempt}): ${context.error?.message ?? 'unknown'}; retrying in ${(context.retryInMs / 1000).toFixed(1)} s`;
}

function mergeGaps(a: GapNotice | null, b: GapNotice | null): GapNotice | null {
  if (!a) return b;
  if (!b) return a;
  return { dropped: a.dropped + b.dropped, first_seq: Math.min(a.first_seq, b.first_seq), last_seq: Math.max(a.last_seq, b.last_seq) };
}

/** Adds a sample; past the capacity the oldest not in flight is dropped into the gap. */
export function enqueueSample(
  context: Pick<TelemetryPublisherContext, 'buffer' | 'gap' | 'droppedTotal' | 'timing' | 'inFlight'>,
  sample: TelemetrySample,
): Pick<TelemetryPublisherContext, 'buffer' | 'gap' | 'droppedTotal'> {
  const buffer = [...context.buffer, sample];
  let gap = context.gap;
  let droppedTotal = context.droppedTotal;
  const inFlightLast = context.inFlight?.samples.at(-1)?.seq ?? -1;
  while (buffer.length > context.timing.bufferCapacity) {
    // never drop what is being published right now: drop the oldest sample behind it
    const index = buffer.findIndex((s) => s.seq > inFlightLast);
    const [dropped] = buffer.splice(index < 0 ? 0 : index, 1);
    gap = mergeGaps(gap, { dropped: 1, first_seq: dropped!.seq, last_seq: dropped!.seq });
    droppedTotal += 1;
  }
  return { buffer, gap, droppedTotal };
}

function failure(context: TelemetryPublisherContext, code: string, message: string): Partial<TelemetryPublisherContext> {
  const attempt = context.attempt + 1;
  const t = context.timing;
  return {
    attempt,
    retryInMs: fullJitterDelay({ initialMs: t.reconnectDelayInitialMs, maxMs: t.reconnectDelayMaxMs, factor: 2 }, attempt - 1, context.random),
    error: createErrorEvent({ code, message, component: 'telemetry-publisher', severity: 'warning', retryable: true, at: context.now(), details: { attempt } }),
  };
}

const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export const telemetryPublisherMachine = setup({
  types: {
    context: {} as TelemetryPublisherContext,
    events: {} as TelemetryPublisherEvent,
    input: {} as TelemetryPublisherInput,
  },
  actors: {
    /** One connection attempt; the service keeps the connection it opens. */
    connect: fromPromise<void, ConnectInput>(async () => {}),
    /** While connected: reports `link.lost`, `ping.result`, `ping.lost`; closes the connection when stopped. */
    link: fromCallback<TelemetryPublisherEvent, { pingIntervalMs: number }>(() => () => {}),
    publishSetup: fromPromise<void, { setup: Record<string, unknown> }>(async () => {}),
    /** Publishes each `send` batch in order; answers `batch.stored` or `batch.failed`. */
    sender: fromCallback<SenderCommand>(({ sendBack }) => {
      sendBack({ type: 'sender.ready' });
      return () => {};
    }),
  },
  actions: {
    /** Provided by the service: log `retryMessage(context)`. */
    logRetry: () => {},
    enqueue: assign(({ context, event }) => {
      if (event.type !== 'telemetry') return {};
      const at = event.at ?? new Date(context.now()).toISOString();
      return { ...enqueueSample(context, { seq: context.nextSeq, at, data: event.data }), nextSeq: context.nextSeq + 1 };
    }),
    storeSetup: assign(({ event }) => (event.type === 'setup' ? { setup: event.setup } : {})),
    connectFailed: assign(({ context, event }) => failure(context, 'CONNECT_FAILED', errorMessage((event as { error?: unknown }).error))),
    linkLost: assign(({ context, event }) => {
      const message = event.type === 'link.lost' || event.type === 'batch.failed' ? event.message : errorMessage((event as { error?: unknown }).error);
      return failure(context, event.type === 'batch.failed' ? 'PUBLISH_FAILED' : 'CONNECTION_LOST', message);
    }),
    connected: assign(({ context }) => ({ connections: context.connections + 1, error: undefined, retryInMs: 0 })),
    resetAttempts: assign({ attempt: 0 }),
    pingResult: assign(({ context, event }) =>
      event.type === 'ping.result' ? { quality: { rtt_ms: event.rttMs, pings: context.quality.pings + 1, lost: context.quality.lost } } : {},
    ),
    pingLost: assign(({ context }) => ({ quality: { ...context.quality, pings: context.quality.pings + 1, lost: context.quality.lost + 1 } })),
    /** Sends the next batch unless one is in flight or nothing waits. */
    sendNext: enqueueActions(({ context, enqueue }) => {
      if (context.inFlight) return;
      const samples = context.buffer.slice(0, context.timing.publishBatchMax);
      if (samples.length === 0 && !context.gap) return;
      const inFlight: InFlight = { gap: context.gap, samples };
      const messages: OutboundMessage[] = [
        ...(context.gap ? [{ kind: 'gap' as const, gap: context.gap, dropped_total: context.droppedTotal }] : []),
        ...samples.map((sample) => ({ kind: 'data' as const, sample })),
      ];
      enqueue.assign({ inFlight, gap: null });
      enqueue.sendTo('sender', { type: 'send', messages, lastSeq: samples.at(-1)?.seq ?? -1 });
    }),
    batchStored: assign(({ context, event }) => {
      if (event.type !== 'batch.stored' || !context.inFlight) return {};
      const last = event.lastSeq;
      return { buffer: context.buffer.filter((s) => s.seq > last), inFlight: null, published: context.published + event.count };
    }),
    /** Leaving `streaming`: what was in flight is sent again after the next connect. */
    abandonBatch: assign(({ context }) => {
      const inFlight = context.inFlight;
      if (!inFlight) return {};
      return { inFlight: null, gap: mergeGaps(inFlight.gap, context.gap) };
    }),
  },
  delays: {
    backoff: ({ context }) => context.retryInMs,
    stableAfter: ({ context }) => context.timing.stableAfterMs,
  },
}).createMachine({
  id: 'telemetryPublisher',
  context: ({ input }) => ({
    sessionId: input.sessionId,
    timing: { ...DEFAULT_PUBLISHER_TIMING, ...input.timing },
    random: input.random ?? Math.random,
    now: input.now ?? Date.now,
    setup: input.setup ?? null,
    buffer: [],
    nextSeq: 1,
    gap: null,
    inFlight: null,
    droppedTotal: 0,
    published: 0,
    attempt: 0,
    retryInMs: 0,
    connections: 0,
    quality: { rtt_ms: null, pings: 0, lost: 0 },
    error: undefined,
  }),
  initial: 'connecting',
  on: {
    telemetry: { actions: 'enqueue' },
    setup: { actions: 'storeSetup' },
    'publisher.stop': { target: '.stopped' },
  },
  states: {
    connecting: {
      invoke: {
        id: 'connect',
        src: 'connect',
        input: ({ context }) => ({ sessionId: context.sessionId, attempt: context.attempt + 1 }),
        onDone: { target: 'connected', actions: 'connected' },
        onError: { target: 'reconnecting', actions: 'connectFailed' },
      },
    },
    reconnecting: {
      entry: 'logRetry',
      after: { backoff: { target: 'connecting' } },
    },
    connected: {
      invoke: { id: 'link', src: 'link', input: ({ context }) => ({ pingIntervalMs: context.timing.pingIntervalMs }) },
      initial: 'sendingSetup',
      after: { stableAfter: { actions: 'resetAttempts' } },
      on: {
        'link.lost': { target: 'reconnecting', actions: 'linkLost' },
        'ping.result': { actions: 'pingResult' },
        'ping.lost': { actions: 'pingLost' },
        setup: { target: '.sendingSetup', actions: 'storeSetup' },
      },
      states: {
        sendingSetup: {
          always: { guard: ({ context }) => context.setup === null, target: 'streaming' },
          invoke: {
            id: 'publishSetup',
            src: 'publishSetup',
            input: ({ context }) => ({ setup: context.setup ?? {} }),
            onDone: { target: 'streaming' },
            onError: { target: '#telemetryPublisher.reconnecting', actions: 'linkLost' },
          },
        },
        streaming: {
          invoke: { id: 'sender', src: 'sender' },
          exit: 'abandonBatch',
          on: {
            telemetry: { actions: ['enqueue', 'sendNext'] },
            'sender.ready': { actions: 'sendNext' },
            'batch.stored': { actions: ['batchStored', 'sendNext'] },
            'batch.failed': { target: '#telemetryPublisher.reconnecting', actions: 'linkLost' },
          },
        },
      },
    },
    stopped: { type: 'final' },
  },
});

/** The public part of the context in every transition record (nothing that changes per sample). */
export function summarizeTelemetryPublisher(context: TelemetryPublisherContext): Record<string, unknown> {
  return {
    session_id: context.sessionId,
    attempt: context.attempt,
    retry_in_ms: context.retryInMs,
    connections: context.connections,
  };
}
