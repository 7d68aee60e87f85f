import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { componentLogger, type Logger } from '../log/logger.ts';
import { recordJson, recordMessageId, type TransitionRecord } from './schemas/transitionRecord.ts';
import { transitionSubject } from './subjects.ts';
import { createGapTracker, type GapTracker } from './outboxGaps.ts';

export interface OutboxOptions {
  js: JetStreamClient;
  /** Records held while NATS is unreachable; past it the oldest are compacted into gap records. */
  capacity?: number;
  /** Publishes awaiting their JetStream ack at once (pipelining). */
  window?: number;
  publishTimeoutMs?: number;
  retryDelayMs?: { initial: number; max: number };
  /** Whether the underlying connection is up; the pump pauses while it is not. */
  isConnected?: () => boolean;
  logger?: Logger;
}

export interface OutboxStats {
  /** Records handed to `enqueue` so far (each ends stored, or counted in `dropped`). */
  enqueued: number;
  queued: number;
  inFlight: number;
  published: number;
  /** Records compacted away by overflow (each reported in a gap record). */
  dropped: number;
  gapRecords: number;
  retries: number;
  lastError?: string;
}

export interface Outbox {
  /** Never throws and never blocks; `onStored` runs once JetStream has the record. */
  enqueue(record: TransitionRecord, onStored?: () => void): void;
  /** Resolves when every record enqueued so far is stored (or the outbox is closed). */
  flush(): Promise<void>;
  stats(): OutboxStats;
  /** Wakes the pump (e.g. after a reconnect) instead of waiting for the retry delay. */
  kick(): void;
  close(): Promise<void>;
}

interface Entry {
  record: TransitionRecord;
  onStored?: () => void;
}

/** Records waiting before the outbox publishes at once instead of at the end of the event loop's turn. */
const PUMP_BATCH = 16;

/**
 * The outbox of DESIGN.md. Records are published to JetStream in order with
 * `Nats-Msg-Id = kind:id:incarnation:seq`, so a retry after a lost ack is dropped by the
 * server as a duplicate. Up to `window` publishes are in flight; on any failure (or a
 * disconnect) the pump stops sending, lets every in-flight publish settle, puts the
 * failures back at the head in their original order and retries with backoff. Nothing
 * is dropped silently: overflow compacts the oldest records of an actor into one gap
 * record (event `outbox.gap`) carrying the last dropped state and the dropped count.
 */
export function createOutbox(options: OutboxOptions): Outbox {
  const log = options.logger ?? componentLogger('outbox');
  const capacity = options.capacity ?? 50_000;
  const window = options.window ?? 256;
  const timeout = options.publishTimeoutMs ?? 3_000;
  const retry = options.retryDelayMs ?? { initial: 100, max: 2_000 };
  const isConnected = options.isConnected ?? (() => true);
  const queue: Entry[] = [];
  let head = 0;
  const gaps: GapTracker = createGapTracker();
  const stats: OutboxStats = { enqueued: 0, queued: 0, inFlight: 0, published: 0, dropped: 0, gapRecords: 0, retries: 0 };
  let inFlight = 0;
  let failed: Array<{ order: number; entry: Entry }> = [];
  let sendOrder = 0;
  let retryAttempt = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let closed = false;
  let idleWaiters: Array<() => void> = [];
  let pumpScheduled = false;

  const pending = (): number => queue.length - head;

  function compact(): void {
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
  }

  function enqueue(record: TransitionRecord, onStored?: () => void): void {
    stats.enqueued += 1;
    if (closed) {
      log.error({ msgId: recordMessageId(record) }, 'record enqueued after the outbox closed; reported as a gap');
    }
    if (pending() >= capacity) {
      const oldest = queue[head];
      if (oldest) {
        head += 1;
        stats.dropped += 1;
        gaps.add(oldest.record, oldest.onStored);
        if (stats.dropped === 1 || stats.dropped % 1000 === 0) {
          log.warn({ dropped: stats.dropped, capacity }, 'outbox full: oldest records compacted into gap records');
        }
      }
    }
    queue.push(onStored ? { record, onStored } : { record });
    schedulePump();
  }

  /**
   * Publishes leave together: at the end of this turn of the event loop, or at once when
   * PUMP_BATCH records are waiting. Pumped per record, each record was its own write to
   * the NATS socket (the client flushes once per microtask checkpoint): 100 devices
   * failing in one turn cost the gateway and nats-server 100 system calls each.
   */
  function schedulePump(): void {
    if (pending() >= PUMP_BATCH) return pump();
    pumpAtEndOfTurn();
  }

  /**
   * After an ack, too: the acks of one socket read are handled in one turn, and the
   * window they free is refilled once, in one write, instead of one write per ack.
   */
  function pumpAtEndOfTurn(): void {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      pump();
    });
  }

  function nextEntry(): Entry | undefined {
    const entry = queue[head];
    if (entry) {
      const gap = gaps.takeBefore(entry.record);
      if (gap) return gap;
      head += 1;
      compact();
      return entry;
    }
    return gaps.takeAny();
  }

  function pump(): void {
    if (closed && pending() === 0 && inFlight === 0) return;
    if (retryTimer || failed.length > 0) return;
    if (!isConnected()) return;
    while (inFlight < window) {
      const entry = nextEntry();
      if (!entry) break;
      send(entry, sendOrder++);
    }
    checkIdle();
  }

  function send(entry: Entry, order: number): void {
    inFlight += 1;
    const record = entry.record;
    const h = headers();
    h.set('Nats-Msg-Id', recordMessageId(record));
    options.js
      .publish(transitionSubject(record.kind, record.id, record.to), recordJson(record), { headers: h, timeout })
      .then(
        () => {
          stats.published += 1;
          if (record.event === 'outbox.gap') stats.gapRecords += 1;
          entry.onStored?.();
        },
        (err: Error) => {
          stats.lastError = err.message;
          failed.push({ order, entry });
        },
      )
      .finally(() => {
        inFlight -= 1;
        if (inFlight === 0 && failed.length > 0) scheduleRetry();
        else pumpAtEndOfTurn();
      });
  }

  function scheduleRetry(): void {
    failed.sort((a, b) => a.order - b.order);
    const back = failed.map((f) => f.entry);
    failed = [];
    queue.splice(head, 0, ...back);
    stats.retries += back.length;
    retryAttempt += 1;
    const delay = Math.min(retry.max, retry.initial * 2 ** Math.min(retryAttempt - 1, 10));
    log.warn({ records: back.length, attempt: retryAttempt, retryInMs: delay, err: stats.lastError }, 'JetStream publish failed; will retry in order');
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      pump();
    }, delay);
  }

  function checkIdle(): void {
    if (pending() === 0 && inFlight === 0 && failed.length === 0 && !gaps.size()) {
      if (retryAttempt > 0) log.info({ published: stats.published }, 'outbox drained after retries');
      retryAttempt = 0;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  return {
    enqueue,
    flush: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      }),
    stats: () => ({ ...stats, queued: pending() + gaps.size(), inFlight }),
    kick: () => {
      if (retryTimer) {
        clearTimeout(retryTimer);
        retryTimer = undefined;
      }
      pump();
    },
    close: async () => {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    },
  };
}
