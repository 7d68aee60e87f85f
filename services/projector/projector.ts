import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerInfo,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS, STREAMS } from '../bus/subjects.ts';
import { componentLogger, type Logger } from '../log/logger.ts';
import { createKvBackend } from './backend.ts';
import { broadcastChanges, PROJECTOR_HEARTBEAT_SUBJECT } from './broadcasts.ts';
import { projectMessage } from './projectMessage.ts';
import { createProjectionStore, type Change, type StagedBatch } from './projectionStore.ts';
import type { Effect } from './effects.ts';
import type { Notice } from './reducers/telemetryMessage.ts';
import { FAILOVER_CONSUME_OPTIONS } from '../bus/consumeOptions.ts';
import { createWriteBehind, type WriteBehindOptions } from './writeBehind.ts';

export interface ProjectorOptions {
  nc: NatsConnection;
  logger?: Logger;
  /** Messages applied (and written) together at most. */
  batchMax?: number;
  heartbeatMs?: number;
  /** Batches computed and announced but not yet written and acked, at most. */
  pipelineDepth?: number;
  /** Messages computed and announced but not yet written and acked, at most. */
  maxInFlightMessages?: number;
  /** When announced batches are written (writeBehind.ts). */
  writeBehind?: WriteBehindOptions;
  /**
   * Standby mode (projectorStandby.ts): false once this projector may no longer apply or
   * ack (its leader lease lapsed); checked before each batch and each ack, and it stops.
   */
  fence?: () => boolean;
  /** A new leader: recreate every durable from its ack floor, whatever it has pending (projectorStandby.ts). */
  takeOver?: boolean;
}

export interface ProjectorStats {
  applied: number;
  rejected: number;
  batches: number;
  writeFailures: number;
  lastAppliedAt?: string;
}

export interface Projector {
  stats(): ProjectorStats;
  /** Stops consuming; what was applied is acked, the rest is redelivered to the next projector. */
  stop(): Promise<void>;
}

/** The stream a message came from, told by its subject (reading `info` parses its reply subject). */
function streamOf(msg: JsMsg): string {
  const subject = msg.subject;
  if (subject.startsWith('conn.')) return STREAMS.conn;
  if (subject.startsWith('commands.')) return STREAMS.commands;
  if (subject.startsWith('telemetry.')) return STREAMS.telemetry;
  return msg.info.stream;
}

const DURABLES = { [STREAMS.conn]: 'projector', [STREAMS.commands]: 'projector', [STREAMS.telemetry]: 'projector' } as const;

/**
 * Creates the durable consumer of `stream`, or takes over the one a previous projector
 * left. Messages delivered to a projector that died before acking them are redelivered
 * only after ack_wait, and with AckPolicy.All the new projector's first ack would
 * acknowledge them without their ever being applied. So when the durable has
 * unacknowledged messages it is recreated to deliver again, in order, from just after
 * its ack floor (re-applying what the dead projector applied but did not ack is
 * harmless). One projector consumes at a time.
 */
async function openDurable(jsm: JetStreamManager, stream: keyof typeof DURABLES, log: Logger, takeOver = false): Promise<void> {
  const name = DURABLES[stream];
  const config = { durable_name: name, ack_policy: AckPolicy.All, ack_wait: 30_000_000_000, max_ack_pending: 50_000 };
  let existing: ConsumerInfo | null;
  try {
    existing = await jsm.consumers.info(stream, name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
    existing = null;
  }
  if (!existing) {
    await jsm.consumers.add(stream, { ...config, deliver_policy: DeliverPolicy.All });
    return;
  }
  if (existing.num_ack_pending === 0 && !takeOver) return;
  const from = existing.ack_floor.stream_seq + 1;
  log.warn({ stream, unacked: existing.num_ack_pending, from }, 'a previous projector left messages unacknowledged: consuming again from its ack floor');
  await jsm.consumers.delete(stream, name);
  await jsm.consumers.add(stream, { ...config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
}

/**
 * The projector: durable consumers on CONN and COMMANDS feed one ordered worker that
 * turns each message into effects (pure reducers), applies a batch to the projection
 * store, writes it, broadcasts the changes and only then acks. A crash anywhere before
 * the ack means redelivery, and re-applying effects changes nothing.
 */
export async function startProjector(options: ProjectorOptions): Promise<Projector> {
  const { nc } = options;
  const log = options.logger ?? componentLogger('projector');
  const batchMax = options.batchMax ?? 2_000;
  const pipelineDepth = options.pipelineDepth ?? 64;
  const maxInFlightMessages = options.maxInFlightMessages ?? 5 * batchMax;
  const writeBehind = createWriteBehind(options.writeBehind);
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const store = createProjectionStore(createKvBackend(nc));
  // the projector alone writes these: knowing them whole spares a KV read per new key
  await store.preload([BUCKETS.devices, BUCKETS.deviceState, BUCKETS.actors, BUCKETS.deviceEnds]);
  const stats: ProjectorStats = { applied: 0, rejected: 0, batches: 0, writeFailures: 0 };
  const inbox: JsMsg[] = [];
  let wake: (() => void) | undefined;
  let running = true;
  let fenced = false;
  /** False once the fence fell: nothing more is applied, written or acked, the worker winds down. */
  const mayProceed = (): boolean => {
    if (!options.fence || options.fence()) return true;
    running = false;
    fenced = true;
    return false;
  };

  const subscriptions: ConsumerMessages[] = [];
  for (const stream of [STREAMS.conn, STREAMS.commands, STREAMS.telemetry] as const) {
    await openDurable(jsm, stream, log, options.takeOver);
    const consumer = await js.consumers.get(stream, DURABLES[stream]);
    subscriptions.push(
      await consumer.consume({
        max_messages: 5_000,
        ...FAILOVER_CONSUME_OPTIONS,
        callback: (msg) => {
          inbox.push(msg);
          wake?.();
        },
      }),
    );
    void logStalls(subscriptions.at(-1)!, stream);
  }

  /** A pull that went unanswered (two heartbeats missed) stalls a stream until re-issued: said in the log. */
  async function logStalls(messages: ConsumerMessages, stream: string): Promise<void> {
    for await (const s of messages.status()) {
      if (s.type === 'heartbeats_missed') log.warn({ stream, missed: s.count }, 'consumer heartbeats missed: pulling again');
    }
  }

  /** A batch computed, announced and being written; acked once written, in order. */
  interface InFlight {
    /** The last message of each stream in the batch: acking it acks the batch (AckPolicy.All). */
    acks: JsMsg[];
    size: number;
    effects: Effect[];
    notices: Notice[];
    staged: Promise<StagedBatch | undefined>;
    settled: Promise<'written' | 'failed'>;
  }
  const inFlight: InFlight[] = [];
  const announce = (computed: Change[]): void => broadcastChanges(nc, computed);

  function project(batch: JsMsg[]): { effects: Effect[]; notices: Notice[] } {
    const effects: Effect[] = [];
    const notices: Notice[] = [];
    for (const msg of batch) {
      const projected = projectMessage(msg.subject, msg.data);
      if (projected.notices) notices.push(...projected.notices);
      if (projected.ok) {
        effects.push(...projected.effects);
        if (projected.warning) log.warn({ subject: msg.subject, seq: msg.seq }, projected.warning);
      } else {
        stats.rejected += 1;
        log.error({ subject: msg.subject, seq: msg.seq, err: projected.error }, 'message skipped: it does not parse');
      }
    }
    return { effects, notices };
  }

  /** Computes and announces a batch, and starts writing it, while earlier batches are still being written. */
  async function stage(batch: JsMsg[]): Promise<void> {
    if (!mayProceed()) return;
    const { effects, notices } = project(batch);
    const writeAfter = writeBehind.gate(batch.length);
    // notices (telemetry session updates, its error events) go out only once their batch
    // is written: a dashboard joining a session reads the bucket, then follows the notices,
    // and must not miss one between the two. Such a batch is written at once
    if (notices.length > 0) writeBehind.openAll();
    const staged = store.stage(effects, { early: announce, writeAfter }).catch(() => undefined);
    const settled = staged.then((s) => (s ? s.written.then(() => 'written' as const, () => 'failed' as const) : ('failed' as const)));
    inFlight.push({ acks: lastOfEachStream(batch), size: batch.length, effects, notices, staged, settled });
    await staged;
  }

  const inFlightMessages = (): number => inFlight.reduce((n, b) => n + b.size, 0);
  /** Whether another batch may be computed and announced before the oldest is written. */
  const hasRoom = (): boolean => running && inFlight.length < pipelineDepth && inFlightMessages() < maxInFlightMessages;

  /**
   * AckPolicy.All: acking the last message of each stream acks everything before it. Only
   * those are kept while a batch waits to be written: holding every message of the batches
   * in flight made the garbage collector copy them over and over.
   */
  function lastOfEachStream(batch: JsMsg[]): JsMsg[] {
    const last = new Map<string, JsMsg>();
    for (const msg of batch) last.set(streamOf(msg), msg);
    return [...last.values()];
  }

  function acknowledge(done: InFlight): void {
    if (!mayProceed()) return;
    for (const msg of done.acks) msg.ack();
    stats.applied += done.size;
    stats.batches += 1;
    stats.lastAppliedAt = new Date().toISOString();
  }

  async function finish(head: InFlight): Promise<void> {
    const changes = await (await head.staged)!.written;
    broadcastChanges(nc, changes);
    for (const n of head.notices) nc.publish(n.subject, JSON.stringify(n.payload));
    acknowledge(head);
  }

  /**
   * A write failed: once every batch in flight has settled, their keys are read again and
   * the batches re-applied one at a time, in order, until they land (re-applying what was
   * already written changes nothing).
   */
  async function recover(batches: InFlight[]): Promise<void> {
    writeBehind.openAll(!fenced);
    await Promise.all(batches.map((b) => b.settled));
    if (fenced) return; // the new active projector applies them again
    for (const b of batches) store.invalidate(b.effects);
    for (const b of batches) {
      for (let attempt = 1; ; attempt++) {
        try {
          broadcastChanges(nc, await store.apply(b.effects, { early: announce }));
          for (const n of b.notices) nc.publish(n.subject, JSON.stringify(n.payload));
          break;
        } catch (err) {
          stats.writeFailures += 1;
          const delay = Math.min(2_000, 50 * 2 ** Math.min(attempt, 6));
          log.warn({ err: (err as Error).message, attempt, retryInMs: delay }, 'projection write failed; retrying the batch');
          await new Promise((r) => setTimeout(r, delay));
          if (!running) return;
        }
      }
      acknowledge(b);
    }
  }

  const nextMessage = (): Promise<'message'> => new Promise((resolve) => (wake = () => resolve('message')));

  const worker = (async () => {
    while (running || inFlight.length > 0) {
      if (inbox.length > 0 && hasRoom()) {
        await stage(inbox.splice(0, batchMax));
        if (inbox.length === 0) writeBehind.quiet();
        continue;
      }
      const head = inFlight[0];
      if (!head) {
        await nextMessage();
        wake = undefined;
        continue;
      }
      // nothing more can be staged (full, stopping or fenced): the oldest must be written now
      const room = hasRoom();
      if (!room) writeBehind.openAll(!fenced);
      const outcome = await (room ? Promise.race([head.settled, nextMessage()]) : head.settled);
      if (outcome === 'message') continue;
      if (outcome === 'written') await finish(inFlight.shift()!);
      else {
        if (!fenced) stats.writeFailures += 1;
        await recover(inFlight.splice(0));
      }
    }
  })();

  const heartbeat = setInterval(() => {
    if (nc.isClosed()) return;
    nc.publish(PROJECTOR_HEARTBEAT_SUBJECT, JSON.stringify({ service: 'projector', role: 'active', at: new Date().toISOString(), ...stats, backlog: inbox.length }));
  }, options.heartbeatMs ?? 1_000);
  log.info('projector consuming CONN, COMMANDS and TELEMETRY');

  return {
    stats: () => ({ ...stats }),
    stop: async () => {
      running = false;
      clearInterval(heartbeat);
      wake?.();
      await worker;
      await Promise.all(subscriptions.map((s) => s.close()));
    },
  };
}
