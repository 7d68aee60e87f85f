import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../infra/nats/index.ts';
import type { Bus } from '../../services/bus/connection.ts';
import { createOutbox, type Outbox, type OutboxOptions } from '../../services/bus/outbox.ts';
import { provision } from '../../services/bus/provision.ts';
import { recordMessageId, type TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { transitionSubject } from '../../services/bus/subjects.ts';
import { connectAs } from '../../services/cli/natsEndpoint.ts';
import { byIncarnation, readRecords, type StoredRecord } from '../support/streams.ts';
import { waitFor } from '../support/waitFor.ts';

let dataDir: string;
let server: NatsServerHandle;
let bus: Bus;
let jsm: JetStreamManager;
const outboxes: Outbox[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'lifeline-outbox-'));
  server = await startNatsServer({ dataDir });
  bus = await connectAs({ url: server.url, credentials: server.credentials }, 'gateway', 'outbox-test', 10_000);
  const admin = await connectAs({ url: server.url, credentials: server.credentials }, 'admin', 'outbox-test-admin', 10_000);
  await provision(admin.nc);
  await admin.close();
  jsm = await jetstreamManager(bus.nc);
});

afterEach(async () => {
  if (server.running) {
    try {
      process.kill(server.pid, 'SIGCONT');
    } catch {
      // not stopped
    }
  } else {
    await server.restart();
  }
  await Promise.all(outboxes.splice(0).map((o) => o.close()));
});

afterAll(async () => {
  await bus?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The outbox as the services wire it: paused while disconnected, kicked on reconnect. */
function newOutbox(options: Partial<OutboxOptions> = {}): Outbox {
  const outbox = createOutbox({
    js: jetstream(bus.nc),
    isConnected: () => bus.status() === 'connected',
    retryDelayMs: { initial: 50, max: 500 },
    publishTimeoutMs: 1_000,
    ...options,
  });
  const onStatus = (s: string): void => {
    if (s === 'connected') outbox.kick();
  };
  bus.events.on('status', onStatus);
  outboxes.push({ ...outbox, close: async () => (bus.events.off('status', onStatus), outbox.close()) });
  return outbox;
}

let run = 0;
/** Ids unique to one test, so each test reads back only its own records. */
function ids(...names: string[]): string[] {
  run += 1;
  return names.map((n) => `t${run}:${n}`);
}

function record(id: string, seq: number, to = seq % 2 === 0 ? 'busy' : 'idle', incarnation = 'inc-1'): TransitionRecord {
  return {
    v: 1,
    kind: 'device',
    id,
    incarnation,
    seq,
    at: new Date(1_700_000_000_000 + seq).toISOString(),
    from: seq === 1 ? null : `was${seq - 1}`,
    to,
    event: `e${seq}`,
    context: { n: seq, id },
  };
}

/** `n` records per actor, interleaved pseudo-randomly but in seq order per actor. */
function interleaved(actorIds: string[], n: number, to?: (seq: number) => string): TransitionRecord[] {
  const next = new Map(actorIds.map((id) => [id, 1]));
  const out: TransitionRecord[] = [];
  let x = 7;
  while (out.length < actorIds.length * n) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const open = actorIds.filter((id) => next.get(id)! <= n);
    const id = open[x % open.length]!;
    const seq = next.get(id)!;
    next.set(id, seq + 1);
    out.push(record(id, seq, to?.(seq)));
  }
  return out;
}

async function storedOf(actorIds: string[]): Promise<StoredRecord[]> {
  const wanted = new Set(actorIds);
  return (await readRecords(bus.nc)).filter((r) => wanted.has(r.record.id));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms))),
  ]);
}

/** Signals are delivered asynchronously: a process is frozen only once every thread's state is `T`. */
function isStopped(pid: number): boolean {
  return readdirSync(`/proc/${pid}/task`).every((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
  });
}

async function outage(): Promise<void> {
  await server.kill('SIGKILL');
  await waitFor(() => bus.status() !== 'connected', 5_000, 'the client to notice the server is gone');
}

describe('outbox against a real nats-server', () => {
  it('stores records in the order they were enqueued, with Nats-Msg-Id kind:id:incarnation:seq', async () => {
    const actors = ids('a', 'b', 'c');
    const records = interleaved(actors, 200);
    const outbox = newOutbox({ window: 64 });
    for (const r of records) outbox.enqueue(r);
    await withTimeout(outbox.flush(), 15_000, 'flush');
    const stored = await storedOf(actors);
    expect(stored.map((s) => s.msgId)).toEqual(records.map(recordMessageId));
    expect(stored.map((s) => s.subject)).toEqual(records.map((r) => transitionSubject(r.kind, r.id, r.to)));
    expect(stored.map((s) => s.record)).toEqual(records);
    expect(outbox.stats()).toMatchObject({ enqueued: 600, queued: 0, inFlight: 0, published: 600, dropped: 0, gapRecords: 0 });
  });

  it('publishing the same records again stores nothing twice (Nats-Msg-Id deduplication)', async () => {
    const actors = ids('dup');
    const records = interleaved(actors, 50);
    const first = newOutbox();
    for (const r of records) first.enqueue(r);
    await withTimeout(first.flush(), 10_000, 'flush');
    const before = (await jsm.streams.info('CONN')).state.messages;
    // a second outbox (a restarted process) sends every record once more
    const second = newOutbox();
    for (const r of records) second.enqueue(r);
    await withTimeout(second.flush(), 10_000, 'flush');
    expect(second.stats().published).toBe(50);
    expect((await jsm.streams.info('CONN')).state.messages).toBe(before);
    expect((await storedOf(actors)).map((s) => s.msgId)).toEqual(records.map(recordMessageId));
  });

  it('a retry after lost acks produces no duplicate, keeps the order and calls onStored once', async () => {
    const actors = ids('lost-ack');
    const records = interleaved(actors, 20);
    const outbox = newOutbox({ publishTimeoutMs: 250 });
    const storedCalls = new Map<number, number>();
    // freeze the server: the publishes reach its socket, their acks cannot come back in time
    process.kill(server.pid, 'SIGSTOP');
    try {
      await waitFor(() => isStopped(server.pid), 5_000, 'nats-server stopped');
      for (const r of records) outbox.enqueue(r, () => storedCalls.set(r.seq, (storedCalls.get(r.seq) ?? 0) + 1));
      await waitFor(() => outbox.stats().retries >= 40, 10_000, 'the outbox to retry every record twice').catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(outbox.stats())}, bus ${bus.status()}`);
      });
      expect(storedCalls.size).toBe(0);
      expect(outbox.stats().published).toBe(0);
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    // the server now stores the first attempts and sees every retry as a duplicate
    await withTimeout(outbox.flush(), 15_000, 'flush');
    const stored = await storedOf(actors);
    expect(stored.map((s) => s.msgId)).toEqual(records.map(recordMessageId));
    expect([...storedCalls.entries()].sort((a, b) => a[0] - b[0])).toEqual(records.map((r) => [r.seq, 1]));
  });

  it('holds records while the server is down and publishes them, in order, after restart()', async () => {
    const actors = ids('w', 'x', 'y', 'z');
    // a distinct state per record: `last_by_subj` then finds exactly one record
    const records = interleaved(actors, 50, (seq) => `s${seq}`);
    const outbox = newOutbox();
    outbox.enqueue(record(actors[0]!, 0, 'before'));
    await withTimeout(outbox.flush(), 10_000, 'flush');

    await outage();
    const callbacks: string[] = [];
    const checks: Array<Promise<string | undefined>> = [];
    for (const r of records) {
      outbox.enqueue(r, () => {
        callbacks.push(recordMessageId(r));
        // onStored promises the record is in JetStream: look it up right now
        checks.push(
          jsm.streams
            .getMessage('CONN', { last_by_subj: transitionSubject(r.kind, r.id, r.to) })
            .then((m) => m?.header.get('Nats-Msg-Id')),
        );
      });
    }
    expect(outbox.stats()).toMatchObject({ queued: 200, dropped: 0 });
    expect(callbacks).toEqual([]);

    await server.restart();
    await withTimeout(outbox.flush(), 20_000, 'flush after restart');
    expect(callbacks).toEqual(records.map(recordMessageId));
    expect(await Promise.all(checks)).toEqual(records.map(recordMessageId));
    const stored = (await storedOf(actors)).filter((s) => s.record.seq > 0);
    expect(stored.map((s) => s.msgId)).toEqual(records.map(recordMessageId));
    expect(outbox.stats()).toMatchObject({ queued: 0, dropped: 0, gapRecords: 0 });
  });

  it('with a tiny capacity, overflow during an outage becomes gap records and every actor still ends in its last state', async () => {
    const [a, b, c] = ids('a', 'b', 'c') as [string, string, string];
    const seqRange = (id: string, from: number, to: number): TransitionRecord[] =>
      Array.from({ length: to - from + 1 }, (_, i) => record(id, from + i, `st${(from + i) % 3}`));
    const records = [...seqRange(a, 1, 10), ...seqRange(b, 1, 4), ...seqRange(a, 11, 30), ...seqRange(c, 1, 2)];
    const outbox = newOutbox({ capacity: 5 });
    const calls = new Map<string, number>();

    await outage();
    for (const r of records) outbox.enqueue(r, () => calls.set(recordMessageId(r), (calls.get(recordMessageId(r)) ?? 0) + 1));
    // the newest 5 are kept: a28 a29 a30 c1 c2; a1..a27 and b1..b4 are compacted
    expect(outbox.stats()).toMatchObject({ dropped: 31, queued: 5 + 2 });
    expect(calls.size).toBe(0);

    await server.restart();
    await withTimeout(outbox.flush(), 20_000, 'flush after restart');
    expect(outbox.stats()).toMatchObject({ enqueued: records.length, queued: 0, dropped: 31, gapRecords: 2 });

    const stored = await storedOf([a, b, c]);
    expect(stored.map((s) => [s.record.id, s.record.seq, s.record.event])).toEqual([
      [a, 27, 'outbox.gap'],
      [a, 28, 'e28'],
      [a, 29, 'e29'],
      [a, 30, 'e30'],
      [c, 1, 'e1'],
      [c, 2, 'e2'],
      [b, 4, 'outbox.gap'],
    ]);
    const gapA = stored[0]!.record;
    expect(gapA.context.gap).toEqual({ dropped: 27, first_seq: 1, last_seq: 27 });
    expect([gapA.from, gapA.to, gapA.context.n]).toEqual([null, 'st0', 27]);
    const gapB = stored[6]!.record;
    expect(gapB.context.gap).toEqual({ dropped: 4, first_seq: 1, last_seq: 4 });
    expect(stored[6]!.msgId).toBe(recordMessageId(record(b, 4)));

    // per actor: the log still ends with the last state, and counts every record produced
    for (const [key, list] of byIncarnation(stored)) {
      const produced = records.filter((r) => `${r.kind}:${r.id}:${r.incarnation}` === key);
      const last = produced.at(-1)!;
      expect([list.at(-1)!.record.seq, list.at(-1)!.record.to, list.at(-1)!.record.context.n]).toEqual([last.seq, last.to, last.seq]);
      const counted = list.reduce((sum, s) => sum + ((s.record.context.gap as { dropped: number } | undefined)?.dropped ?? 1), 0);
      expect(counted).toBe(produced.length);
    }
    // every onStored ran exactly once: the dropped records' with their gap record
    expect(calls.size).toBe(records.length);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
  });
});
