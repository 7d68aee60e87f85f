import { assign, cancel, fromCallback, fromPromise, raise, sendTo, setup, spawnChild, stopChild } from 'xstate';
import { backoffDelay } from './lib/backoff.ts';
import { createErrorEvent, type ErrorEvent } from './lib/errorEvent.ts';
import { reconcileKeys, type KeyStore, type KeySyncCounts, type KeySyncResult, type MeshNode, decideKey } from './lib/keySync.ts';

/**
 * The TCP link to an ESP32 Meshtastic radio (TCP API, port 4403). Pure: the socket is a
 * child actor `radio` (src `radioConnection`, provided by services/esp32-link), spawned
 * for each connection attempt and stopped — which closes the socket — when the link
 * leaves it; key sync is the invoked actor `keySync`. Every wait is a named delay.
 *
 *   connecting ──radio.connected──► configuring ──config_complete_id = nonce──► ready
 *       │ refused / timeout             │ closed / silent / configTimeout      │ syncPending
 *       ▼                               ▼                                      │   ─keySyncDelay (0: at once)─► syncing
 *   reconnecting ◄──────────────────────┴───── closed / silent ◄───────────────┤   ─done─► synced
 *       │ cleanupDelay (a socket was open) or backoff, then connecting          │   ─timeout/error─► syncFailed
 *       ▼ after maxAttempts consecutive failures                                    ─keySyncRetry─► syncing
 *    failed ──slowRetryInterval──► connecting   (heals without a restart)
 *    any ──link.stop──► stopped (final)
 *
 * The radio is ready only when it echoes our random `want_config_id` in
 * `config_complete_id`; frames may come in any order, unknown variants and stale
 * completes are ignored, and the node database collected meanwhile replaces the
 * link's in one step at that moment (a handshake cut short leaves it untouched).
 * Liveness: any frame re-arms `silentTimeout`; `ToRadio.heartbeat` every
 * `heartbeatInterval` (the firmware answers with a queueStatus), so a half-open socket
 * falls silent and is detected by the same rule.
 */

export const LINK_ERROR_CODES = [
  'CONNECT_REFUSED',
  'CONNECT_FAILED',
  'CONNECT_TIMEOUT',
  'SOCKET_RESET',
  'SOCKET_CLOSED',
  'SILENT',
  'CONFIG_TIMEOUT',
  'RECONNECT_EXHAUSTED',
  'KEY_SYNC_TIMEOUT',
  'KEY_SYNC_FAILED',
] as const;
export type LinkErrorCode = (typeof LINK_ERROR_CODES)[number];
export type RadioSocketErrorCode = 'CONNECT_REFUSED' | 'CONNECT_FAILED' | 'SOCKET_RESET' | 'SOCKET_CLOSED';

/** `want_config_id` values the firmware treats specially (PhoneAPI.h): never ours. */
export const SPECIAL_NONCE_ONLY_CONFIG = 69420;
export const SPECIAL_NONCE_ONLY_NODES = 69421;

export interface LinkTiming {
  /** TCP connect must succeed within this. */
  connectTimeoutMs: number;
  /** want_config_id → matching config_complete_id. */
  configTimeoutMs: number;
  /** ToRadio.heartbeat cadence; far below the radio's idle timeout (15 min). */
  heartbeatIntervalMs: number;
  /** No frame for this long → the link is dead (also catches half-open sockets). */
  silentTimeoutMs: number;
  /** After closing a socket that was open, before connecting again (the radio serves one client). */
  cleanupDelayMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  backoffFactor: number;
  /** 0 … 1: spread of each backoff delay. */
  backoffJitter: number;
  /** Consecutive attempts that do not reach `ready` before `failed`. */
  maxAttempts: number;
  /** While `failed`, how often to try again. */
  slowRetryIntervalMs: number;
  /** From `ready` to the start of key sync (0: as soon as readiness is known). */
  keySyncDelayMs: number;
  keySyncTimeoutMs: number;
  /** After a failed key sync, when to try again (the link stays up meanwhile). */
  keySyncRetryMs: number;
}

export const DEFAULT_LINK_TIMING: LinkTiming = {
  connectTimeoutMs: 10_000,
  configTimeoutMs: 60_000,
  heartbeatIntervalMs: 30_000,
  silentTimeoutMs: 120_000,
  cleanupDelayMs: 15_000,
  backoffInitialMs: 1_000,
  backoffMaxMs: 30_000,
  backoffFactor: 2,
  backoffJitter: 0.2,
  maxAttempts: 3,
  slowRetryIntervalMs: 60_000,
  keySyncDelayMs: 0,
  keySyncTimeoutMs: 30_000,
  keySyncRetryMs: 60_000,
};

/** A decoded FromRadio, as the `radio` actor reports it. */
export type RadioFrame =
  | { kind: 'myInfo'; myNodeNum: number; rebootCount: number }
  | { kind: 'nodeInfo'; node: MeshNode }
  /** config, moduleConfig, channel, metadata, deviceuiConfig, fileInfo: counted only. */
  | { kind: 'configPart'; part: string }
  | { kind: 'configComplete'; id: number }
  | { kind: 'rebooted' }
  | { kind: 'packet'; from: number; portnum: number | null }
  /** queueStatus (the heartbeat's answer), logRecord, … and variants this build does not know. */
  | { kind: 'other'; variant: string };

/** What the link asks of the `radio` actor. */
export type RadioCommand = { type: 'radio.wantConfig'; nonce: number } | { type: 'radio.heartbeat' };

/** What the `radio` actor reports. */
export type RadioEvent =
  | { type: 'radio.connected' }
  | { type: 'radio.frame'; frame: RadioFrame }
  | { type: 'radio.closed'; code: RadioSocketErrorCode; message: string };

export interface RadioInput {
  linkId: string;
  host: string;
  port: number;
}

export interface KeySyncInput {
  nodes: MeshNode[];
  stored: KeyStore;
}

export type Esp32LinkEvent =
  | RadioEvent
  /** A NATS `ping` request; the service replies with `requestId`. */
  | { type: 'command.ping'; requestId: string }
  | { type: 'link.stop' }
  | { type: 'timer.silent' }
  | { type: 'timer.heartbeat' };

export interface Esp32LinkInput {
  linkId: string;
  host: string;
  port: number;
  timing?: Partial<LinkTiming>;
  /** The key store as the previous runs left it (the `mesh_nodes` projection). */
  storedKeys?: KeyStore;
  now?: () => number;
  /** [0, 1), like Math.random: nonces and backoff jitter. */
  random?: () => number;
}

/** What one handshake has collected so far; thrown away unless it completes. */
export interface Handshake {
  myInfo: { myNodeNum: number; rebootCount: number } | null;
  nodes: Record<string, MeshNode>;
  configParts: number;
  staleCompletes: number;
  ignored: number;
}

/** One `mesh_nodes` entry as a record carries it. */
export interface MeshNodeEntry {
  num: number;
  id: string;
  long_name: string;
  short_name: string;
  hw_model: number;
  /** The accepted key (base64), null when none is stored. */
  public_key: string | null;
  key_changed: boolean;
  /** The different key the radio reported, while `key_changed`. */
  reported_key: string | null;
  /** ISO time the radio last heard the node, null when never. */
  last_heard: string | null;
}

export interface SyncSummary {
  outcome: 'synced' | 'timeout' | 'error';
  started_at: string;
  finished_at: string;
  duration_ms: number;
  counts: KeySyncCounts | null;
  flagged: number[];
}

export interface Esp32LinkContext {
  linkId: string;
  host: string;
  port: number;
  timing: LinkTiming;
  now: () => number;
  random: () => number;
  /** Consecutive connection attempts that did not reach `ready`. */
  failures: number;
  /** Connection attempts so far (sockets opened or tried). */
  connections: number;
  /** The current/last attempt got a connected socket: closing it needs the cleanup delay. */
  socketWasOpen: boolean;
  nonce: number | null;
  handshake: Handshake;
  myInfo: { myNodeNum: number; rebootCount: number } | null;
  /** The node database of the last complete handshake (+ updates heard since). */
  nodes: Record<string, MeshNode>;
  keys: KeyStore;
  /** Nodes whose entry the latest node-changing transition changed (replaced, not appended). */
  nodeChanges: MeshNodeEntry[];
  /** Every entry this run has put in a record, by node number: only differences are published again. */
  published: Record<string, MeshNodeEntry>;
  lastSync: SyncSummary | null;
  syncStartedAt: number | null;
  /** The key store the running sync started from (its updates apply only where unchanged since). */
  syncBase: KeyStore | null;
  error: ErrorEvent | null;
  readyAt: string | null;
  stats: { packets: number; pings: number; frames: number; staleCompletes: number; ignored: number };
}

const COMPONENT = 'esp32-link';
const SILENCE_TIMER = 'silence';
const HEARTBEAT_TIMER = 'heartbeat';
function linkError(context: Esp32LinkContext, code: LinkErrorCode, message: string, details: Record<string, unknown> = {}): ErrorEvent {
  return createErrorEvent({
    code,
    message,
    component: COMPONENT,
    severity: code === 'RECONNECT_EXHAUSTED' ? 'critical' : code.startsWith('KEY_SYNC') ? 'warning' : 'error',
    retryable: true,
    at: context.now(),
    details: { link: context.linkId, address: `${context.host}:${context.port}`, ...details },
  });
}

/** A uint32 `want_config_id`: never 0, never a special nonce, never the previous one. */
export function newNonce(random: () => number, previous: number | null): number {
  let n = Math.min(0xffff_ffff, Math.floor(random() * 0xffff_ffff) + 1);
  while (n === SPECIAL_NONCE_ONLY_CONFIG || n === SPECIAL_NONCE_ONLY_NODES || n === previous) n = n >= 0xffff_ffff ? 1 : n + 1;
  return n;
}

function emptyHandshake(): Handshake {
  return { myInfo: null, nodes: {}, configParts: 0, staleCompletes: 0, ignored: 0 };
}

export function meshNodeEntry(node: MeshNode, keys: KeyStore): MeshNodeEntry {
  const stored = keys[String(node.num)];
  return {
    num: node.num,
    id: node.id,
    long_name: node.longName,
    short_name: node.shortName,
    hw_model: node.hwModel,
    public_key: stored?.publicKey ?? null,
    key_changed: stored?.keyChanged ?? false,
    reported_key: stored?.keyChanged ? stored.reportedKey : null,
    last_heard: node.lastHeard > 0 ? new Date(node.lastHeard * 1000).toISOString() : null,
  };
}

function sortedNodes(nodes: Record<string, MeshNode>): MeshNode[] {
  return Object.values(nodes).sort((a, b) => a.num - b.num);
}

function sameEntry(a: MeshNodeEntry | undefined, b: MeshNodeEntry): boolean {
  return (
    a !== undefined &&
    a.id === b.id &&
    a.long_name === b.long_name &&
    a.short_name === b.short_name &&
    a.hw_model === b.hw_model &&
    a.public_key === b.public_key &&
    a.key_changed === b.key_changed &&
    a.reported_key === b.reported_key &&
    a.last_heard === b.last_heard
  );
}

/** The entries of `nodes` that differ from what this run published: the next record's `node_changes`. */
function publish(nodes: Iterable<MeshNode>, keys: KeyStore, published: Record<string, MeshNodeEntry>) {
  const nodeChanges: MeshNodeEntry[] = [];
  for (const node of nodes) {
    const entry = meshNodeEntry(node, keys);
    if (!sameEntry(published[String(node.num)], entry)) nodeChanges.push(entry);
  }
  nodeChanges.sort((a, b) => a.num - b.num);
  if (nodeChanges.length === 0) return { nodeChanges };
  const next = { ...published };
  for (const e of nodeChanges) next[String(e.num)] = e;
  return { nodeChanges, published: next };
}

/** The delay before the next attempt from `reconnecting`. */
export function reconnectDelayMs(context: Pick<Esp32LinkContext, 'timing' | 'failures' | 'socketWasOpen' | 'random'>): number {
  const t = context.timing;
  const backoff =
    context.failures === 0
      ? 0
      : backoffDelay({ initialMs: t.backoffInitialMs, maxMs: t.backoffMaxMs, factor: t.backoffFactor, jitter: t.backoffJitter }, context.failures - 1, context.random);
  return context.socketWasOpen ? Math.max(t.cleanupDelayMs, backoff) : backoff;
}

type FailureParams = { error: ErrorEvent };
type ErrorOf = (args: { context: Esp32LinkContext; event: Esp32LinkEvent }) => ErrorEvent;

/** An attempt that did not reach `ready`: the last one allowed → `failed` (exhausted), else `reconnecting`. */
function attemptFailed(errorOf: ErrorOf) {
  const params = (args: { context: Esp32LinkContext; event: Esp32LinkEvent }): FailureParams => ({ error: errorOf(args) });
  return [
    { guard: 'lastAttempt' as const, target: 'failed' as const, actions: [{ type: 'countFailure' as const, params }, 'exhaust' as const] },
    { target: 'reconnecting' as const, actions: { type: 'countFailure' as const, params } },
  ];
}

export const esp32LinkMachine = setup({
  types: {
    context: {} as Esp32LinkContext,
    events: {} as Esp32LinkEvent,
    input: {} as Esp32LinkInput,
  },
  actors: {
    /** Provided by services/esp32-link: the TCP socket, framing and protobuf decoding. */
    radioConnection: fromCallback<RadioCommand, RadioInput>(() => () => {}),
    /** Pure by default; the service provides one that yields to the event loop between chunks. */
    keySync: fromPromise<KeySyncResult, KeySyncInput>(async ({ input }) => reconcileKeys(input.nodes, input.stored)),
  },
  actions: {
    /** Provided by the service: answer the NATS `ping` request `requestId`. */
    replyPing: (_, _params: { requestId: string }) => {},
    countPing: assign(({ context }) => ({ stats: { ...context.stats, pings: context.stats.pings + 1 } })),
    startConnection: assign(({ context }) => ({ connections: context.connections + 1, socketWasOpen: false })),
    spawnRadio: spawnChild('radioConnection', {
      id: 'radio',
      input: ({ context }) => ({ linkId: context.linkId, host: context.host, port: context.port }),
    }),
    stopRadio: stopChild('radio'),
    markSocketOpen: assign({ socketWasOpen: true }),
    beginHandshake: assign(({ context }) => ({ nonce: newNonce(context.random, context.nonce), handshake: emptyHandshake() })),
    sendWantConfig: sendTo('radio', ({ context }) => ({ type: 'radio.wantConfig' as const, nonce: context.nonce ?? 0 })),
    sendHeartbeat: sendTo('radio', { type: 'radio.heartbeat' as const }),
    armSilence: raise({ type: 'timer.silent' }, { id: SILENCE_TIMER, delay: 'silentTimeout' }),
    disarmSilence: cancel(SILENCE_TIMER),
    armHeartbeat: raise({ type: 'timer.heartbeat' }, { id: HEARTBEAT_TIMER, delay: 'heartbeatInterval' }),
    disarmHeartbeat: cancel(HEARTBEAT_TIMER),
    countFrame: assign(({ context }) => ({ stats: { ...context.stats, frames: context.stats.frames + 1 } })),
    collect: assign(({ context, event }) => {
      if (event.type !== 'radio.frame') return {};
      const h = context.handshake;
      const f = event.frame;
      switch (f.kind) {
        case 'myInfo':
          return { handshake: { ...h, myInfo: { myNodeNum: f.myNodeNum, rebootCount: f.rebootCount } } };
        case 'nodeInfo':
          return { handshake: { ...h, nodes: { ...h.nodes, [String(f.node.num)]: f.node } } };
        case 'configPart':
          return { handshake: { ...h, configParts: h.configParts + 1 } };
        case 'configComplete':
          return {
            handshake: { ...h, staleCompletes: h.staleCompletes + 1 },
            stats: { ...context.stats, staleCompletes: context.stats.staleCompletes + 1 },
          };
        default:
          return { handshake: { ...h, ignored: h.ignored + 1 }, stats: { ...context.stats, ignored: context.stats.ignored + 1 } };
      }
    }),
    /** config complete: the collected database replaces the link's in one step. */
    swapNodeDb: assign(({ context }) => {
      const nodes = context.handshake.nodes;
      return {
        nodes,
        myInfo: context.handshake.myInfo ?? context.myInfo,
        handshake: emptyHandshake(),
        failures: 0,
        error: null,
        readyAt: new Date(context.now()).toISOString(),
        ...publish(Object.values(nodes), context.keys, context.published),
      };
    }),
    discardHandshake: assign({ handshake: emptyHandshake() }),
    updateNode: assign(({ context, event }) => {
      if (event.type !== 'radio.frame' || event.frame.kind !== 'nodeInfo') return {};
      const node = event.frame.node;
      const key = String(node.num);
      const d = decideKey(node, context.keys[key]);
      const keys = d.next && d.next !== context.keys[key] ? { ...context.keys, [key]: d.next } : context.keys;
      return { nodes: { ...context.nodes, [key]: node }, keys, ...publish([node], keys, context.published) };
    }),
    countPacket: assign(({ context }) => ({ stats: { ...context.stats, packets: context.stats.packets + 1 } })),
    forgetNodeChanges: assign({ nodeChanges: [] }),
    beginSync: assign(({ context }) => ({ syncStartedAt: context.now(), syncBase: context.keys, nodeChanges: [] })),
    applySync: assign(({ context }, params: { result: KeySyncResult }) => {
      const base = context.syncBase ?? {};
      const keys: KeyStore = { ...context.keys };
      const changed: string[] = [];
      for (const [num, entry] of Object.entries(params.result.updates)) {
        // a node update heard during the sync already decided this node against newer data
        if (context.keys[num] !== base[num]) continue;
        keys[num] = entry;
        changed.push(num);
      }
      const now = context.now();
      const started = context.syncStartedAt ?? now;
      return {
        keys,
        error: null,
        syncBase: null,
        ...publish(
          changed.flatMap((num) => {
            const node = context.nodes[num];
            return node ? [node] : [];
          }),
          keys,
          context.published,
        ),
        lastSync: {
          outcome: 'synced' as const,
          started_at: new Date(started).toISOString(),
          finished_at: new Date(now).toISOString(),
          duration_ms: now - started,
          counts: params.result.counts,
          flagged: params.result.flagged,
        },
      };
    }),
    failSync: assign(({ context }, params: { error: ErrorEvent; outcome: 'timeout' | 'error' }) => {
      const now = context.now();
      const started = context.syncStartedAt ?? now;
      return {
        error: params.error,
        syncBase: null,
        lastSync: {
          outcome: params.outcome,
          started_at: new Date(started).toISOString(),
          finished_at: new Date(now).toISOString(),
          duration_ms: now - started,
          counts: null,
          flagged: [],
        },
      };
    }),
    /** The link was lost (not a failed attempt): the error is recorded, the count stays. */
    noteLoss: assign((_, params: FailureParams) => ({ error: params.error })),
    /** An attempt that did not reach `ready`. */
    countFailure: assign(({ context }, params: FailureParams) => ({ failures: context.failures + 1, error: params.error })),
    /** maxAttempts reached: the error says so and names the last cause. */
    exhaust: assign(({ context }) => {
      const last = context.error;
      const retryIn = Math.max(context.timing.slowRetryIntervalMs, context.socketWasOpen ? context.timing.cleanupDelayMs : 0);
      return {
        error: linkError(
          context,
          'RECONNECT_EXHAUSTED',
          `${context.failures} consecutive attempts to reach the radio at ${context.host}:${context.port} failed` +
            `${last ? ` (last: ${last.code}: ${last.message})` : ''}; retrying every ${retryIn} ms`,
          { attempts: context.failures, last_error: last?.code ?? null, last_message: last?.message ?? null, retry_in_ms: retryIn },
        ),
      };
    }),
  },
  guards: {
    completesOurHandshake: ({ context, event }) =>
      event.type === 'radio.frame' && event.frame.kind === 'configComplete' && event.frame.id === context.nonce,
    isRebooted: ({ event }) => event.type === 'radio.frame' && event.frame.kind === 'rebooted',
    isNodeInfo: ({ event }) => event.type === 'radio.frame' && event.frame.kind === 'nodeInfo',
    isPacket: ({ event }) => event.type === 'radio.frame' && event.frame.kind === 'packet',
    noKeySyncDelay: ({ context }) => context.timing.keySyncDelayMs <= 0,
    /** Evaluated before `countFailure`: this failure is the last one allowed. */
    lastAttempt: ({ context }) => context.failures + 1 >= context.timing.maxAttempts,
  },
  delays: {
    connectTimeout: ({ context }) => context.timing.connectTimeoutMs,
    configTimeout: ({ context }) => context.timing.configTimeoutMs,
    heartbeatInterval: ({ context }) => context.timing.heartbeatIntervalMs,
    silentTimeout: ({ context }) => context.timing.silentTimeoutMs,
    reconnectDelay: ({ context }) => reconnectDelayMs(context),
    slowRetryInterval: ({ context }) =>
      Math.max(context.timing.slowRetryIntervalMs, context.socketWasOpen ? context.timing.cleanupDelayMs : 0),
    keySyncDelay: ({ context }) => context.timing.keySyncDelayMs,
    keySyncTimeout: ({ context }) => context.timing.keySyncTimeoutMs,
    keySyncRetry: ({ context }) => context.timing.keySyncRetryMs,
  },
}).createMachine({
  id: 'esp32Link',
  context: ({ input }) => ({
    linkId: input.linkId,
    host: input.host,
    port: input.port,
    timing: { ...DEFAULT_LINK_TIMING, ...input.timing },
    now: input.now ?? Date.now,
    random: input.random ?? Math.random,
    failures: 0,
    connections: 0,
    socketWasOpen: false,
    nonce: null,
    handshake: emptyHandshake(),
    myInfo: null,
    nodes: {},
    keys: input.storedKeys ?? {},
    nodeChanges: [],
    published: {},
    lastSync: null,
    syncStartedAt: null,
    syncBase: null,
    error: null,
    readyAt: null,
    stats: { packets: 0, pings: 0, frames: 0, staleCompletes: 0, ignored: 0 },
  }),
  initial: 'connecting',
  on: {
    'command.ping': { actions: ['countPing', { type: 'replyPing', params: ({ event }) => ({ requestId: event.requestId }) }] },
    'link.stop': { target: '.stopped' },
  },
  states: {
    connecting: {
      entry: ['startConnection', 'spawnRadio'],
      on: {
        'radio.connected': { target: 'configuring', actions: 'markSocketOpen' },
        'radio.closed': attemptFailed(({ context, event }) => closedError(context, event)),
      },
      after: {
        connectTimeout: attemptFailed(({ context }) => connectTimeoutError(context)),
      },
    },
    configuring: {
      entry: ['beginHandshake', 'sendWantConfig', 'disarmSilence', 'armSilence', 'disarmHeartbeat', 'armHeartbeat'],
      on: {
        'radio.frame': [
          { guard: 'completesOurHandshake', target: 'ready', actions: ['countFrame', 'disarmSilence', 'armSilence', 'swapNodeDb'] },
          // the radio restarted mid-handshake: what it sent so far is void, ask again
          { guard: 'isRebooted', target: 'configuring', reenter: true, actions: ['countFrame', 'disarmSilence', 'armSilence'] },
          { actions: ['countFrame', 'disarmSilence', 'armSilence', 'collect'] },
        ],
        'timer.heartbeat': { actions: ['sendHeartbeat', 'armHeartbeat'] },
        'radio.closed': attemptFailed(({ context, event }) => closedError(context, event, ' (during the handshake; nothing of it was kept)')),
        'timer.silent': attemptFailed(({ context }) => silentError(context)),
      },
      after: {
        configTimeout: attemptFailed(({ context }) => configTimeoutError(context)),
      },
    },
    ready: {
      initial: 'syncPending',
      exit: 'forgetNodeChanges',
      on: {
        'radio.frame': [
          // the radio restarted its API state: handshake again on the same socket
          { guard: 'isRebooted', target: 'configuring', actions: ['countFrame', 'disarmSilence', 'armSilence'] },
          { guard: 'isNodeInfo', actions: ['countFrame', 'disarmSilence', 'armSilence', 'updateNode'] },
          { guard: 'isPacket', actions: ['countFrame', 'disarmSilence', 'armSilence', 'countPacket'] },
          { actions: ['countFrame', 'disarmSilence', 'armSilence'] },
        ],
        'timer.heartbeat': { actions: ['sendHeartbeat', 'armHeartbeat'] },
        'radio.closed': { target: 'reconnecting', actions: { type: 'noteLoss', params: ({ context, event }) => ({ error: closedError(context, event) }) } },
        'timer.silent': { target: 'reconnecting', actions: { type: 'noteLoss', params: ({ context }) => ({ error: silentError(context) }) } },
      },
      states: {
        syncPending: {
          // readiness is known: with no configured delay the sync starts in the same step
          always: { guard: 'noKeySyncDelay', target: 'syncing' },
          after: { keySyncDelay: 'syncing' },
        },
        syncing: {
          entry: 'beginSync',
          invoke: {
            id: 'keySync',
            src: 'keySync',
            input: ({ context }) => ({ nodes: sortedNodes(context.nodes), stored: context.keys }),
            onDone: { target: 'synced', actions: { type: 'applySync', params: ({ event }) => ({ result: event.output }) } },
            onError: {
              target: 'syncFailed',
              actions: {
                type: 'failSync',
                params: ({ context, event }) => ({
                  outcome: 'error' as const,
                  error: linkError(context, 'KEY_SYNC_FAILED', `key sync failed: ${(event.error as Error)?.message ?? String(event.error)}`),
                }),
              },
            },
          },
          after: {
            keySyncTimeout: {
              target: 'syncFailed',
              actions: {
                type: 'failSync',
                params: ({ context }) => ({
                  outcome: 'timeout' as const,
                  error: linkError(context, 'KEY_SYNC_TIMEOUT', `key sync did not finish within ${context.timing.keySyncTimeoutMs} ms`, {
                    nodes: Object.keys(context.nodes).length,
                  }),
                }),
              },
            },
          },
        },
        synced: {},
        syncFailed: {
          after: { keySyncRetry: 'syncing' },
        },
      },
    },
    reconnecting: {
      entry: ['stopRadio', 'disarmSilence', 'disarmHeartbeat', 'discardHandshake'],
      after: { reconnectDelay: 'connecting' },
    },
    failed: {
      entry: ['stopRadio', 'disarmSilence', 'disarmHeartbeat', 'discardHandshake'],
      after: { slowRetryInterval: 'connecting' },
    },
    stopped: {
      type: 'final',
      entry: ['stopRadio', 'disarmSilence', 'disarmHeartbeat', 'discardHandshake'],
    },
  },
});

function connectTimeoutError(context: Esp32LinkContext): ErrorEvent {
  return linkError(context, 'CONNECT_TIMEOUT', `no TCP connection within ${context.timing.connectTimeoutMs} ms`);
}

function silentError(context: Esp32LinkContext): ErrorEvent {
  return linkError(context, 'SILENT', `no frame from the radio for ${context.timing.silentTimeoutMs} ms`, handshakeProgress(context));
}

function configTimeoutError(context: Esp32LinkContext): ErrorEvent {
  return linkError(
    context,
    'CONFIG_TIMEOUT',
    `the radio did not complete the handshake (config_complete_id ${context.nonce}) within ${context.timing.configTimeoutMs} ms; no key sync was attempted`,
    handshakeProgress(context),
  );
}

/** The radio actor reported its socket's end (`suffix` qualifies it during a handshake). */
function closedError(context: Esp32LinkContext, event: Esp32LinkEvent, suffix = ''): ErrorEvent {
  if (event.type !== 'radio.closed') return linkError(context, 'SOCKET_CLOSED', `connection lost${suffix}`);
  return suffix
    ? linkError(context, event.code, `${event.message}${suffix}`, handshakeProgress(context))
    : linkError(context, event.code, event.message);
}

/** What a handshake that did not complete had received: reported, then thrown away. */
function handshakeProgress(context: Esp32LinkContext): Record<string, unknown> {
  const h = context.handshake;
  return {
    nonce: context.nonce,
    my_info: h.myInfo !== null,
    nodes_received: Object.keys(h.nodes).length,
    config_parts: h.configParts,
    stale_completes: h.staleCompletes,
  };
}

/** The public summary that goes into every transition record of a link. */
export function summarizeEsp32Link(context: Esp32LinkContext) {
  return {
    link: context.linkId,
    host: context.host,
    port: context.port,
    failures: context.failures,
    connections: context.connections,
    nonce: context.nonce,
    my_node_num: context.myInfo?.myNodeNum ?? null,
    reboot_count: context.myInfo?.rebootCount ?? null,
    ready_at: context.readyAt,
    nodes: Object.keys(context.nodes).length,
    keys: Object.keys(context.keys).length,
    last_sync: context.lastSync,
    node_changes: context.nodeChanges,
  };
}

export type Esp32LinkSummary = ReturnType<typeof summarizeEsp32Link>;
