import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { parseJsonWith } from '../../services/bus/schemas/parse.ts';
import { retried } from './retried.ts';
import { transitionRecordSchema, type TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';

export interface StoredMessage {
  seq: number;
  subject: string;
  msgId: string | undefined;
  data: Uint8Array;
}

export interface StoredRecord extends StoredMessage {
  record: TransitionRecord;
}

/**
 * Every message stored in `stream` right now (filtered by `subject`), in stream order, via
 * an ordered consumer. A read is retried (3 attempts) when a JetStream request times out:
 * right after a server restart, under a full test run's load, one can.
 */
export function readStream(nc: NatsConnection, stream: string, subject?: string): Promise<StoredMessage[]> {
  return retried(() => readStreamOnce(nc, stream, subject), {
    attempts: 3,
    delayMs: () => 500,
    retryOn: (err) => (err as Error).name === 'TimeoutError',
  });
}

async function readStreamOnce(nc: NatsConnection, stream: string, subject?: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const last = info.state.last_seq;
  if (info.state.messages === 0) return [];
  const consumer = await jetstream(nc).consumers.get(stream, subject ? { filter_subjects: subject } : {});
  const out: StoredMessage[] = [];
  // a filtered consumer may have nothing at or after `last`: fetch until the stream is exhausted
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 5_000, expires: 1_000 });
    let got = 0;
    let done = false;
    for await (const m of batch) {
      got += 1;
      out.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') || undefined, data: m.data });
      if (m.seq >= last) {
        done = true;
        break;
      }
    }
    if (done || got === 0) break;
  }
  return out.filter((m) => m.seq <= last);
}

/** The transition records of stream CONN (`conn.>` or a narrower subject), in stream order. */
export async function readRecords(nc: NatsConnection, subject = 'conn.>'): Promise<StoredRecord[]> {
  const messages = await readStream(nc, 'CONN', subject);
  return messages.map((m) => {
    const parsed = parseJsonWith(transitionRecordSchema, 'record', m.data);
    if (!parsed.ok) throw new Error(`CONN seq ${m.seq} (${m.subject}) is not a transition record: ${parsed.error.message}`);
    return { ...m, record: parsed.value };
  });
}

/** `kind:id:incarnation` → that actor incarnation's records, in stream order. */
export function byIncarnation<T extends { record: TransitionRecord }>(records: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of records) {
    const key = `${r.record.kind}:${r.record.id}:${r.record.incarnation}`;
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push(r);
  }
  return out;
}

/** True once the durable consumer has nothing left to deliver and nothing unacknowledged. */
export async function consumerCaughtUp(nc: NatsConnection, stream: string, durable: string): Promise<boolean> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.info(stream, durable);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

/** Every durable consumer of `stream` is caught up (see consumerCaughtUp). */
export async function allConsumersCaughtUp(nc: NatsConnection, stream: string): Promise<boolean> {
  const jsm = await jetstreamManager(nc);
  for await (const info of jsm.consumers.list(stream)) {
    if (info.num_pending !== 0 || info.num_ack_pending !== 0) return false;
  }
  return true;
}
