import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate';
import { fullJitterDelay } from '../../machines/lib/backoff.ts';
import {
  enqueueSample,
  retryMessage,
  telemetryPublisherMachine,
  type OutboundMessage,
  type PublisherTiming,
  type SenderCommand,
} from '../../machines/telemetryPublisher.ts';
import { statePath } from '../../services/runtime/statePath.ts';

const TIMING: Partial<PublisherTiming> = { reconnectDelayInitialMs: 1_000, reconnectDelayMaxMs: 8_000, stableAfterMs: 5_000, bufferCapacity: 5 };

/** The machine with scripted I/O on simulated time; `connectOk` decides each connect attempt. */
function harness(options: { connectOk: () => boolean; random?: () => number; autoStore?: boolean }) {
  const clock = new SimulatedClock();
  const wire: string[] = [];
  const retries: string[] = [];
  const sent: SenderCommand[] = [];
  const machine = telemetryPublisherMachine.provide({
    actors: {
      connect: fromPromise(async () => {
        if (!options.connectOk()) throw new Error('ECONNREFUSED');
      }),
      link: fromCallback(() => () => {}),
      publishSetup: fromPromise(async ({ input }: { input: { setup: Record<string, unknown> } }) => {
        wire.push(`setup:${JSON.stringify(input.setup)}`);
      }),
      sender: fromCallback<SenderCommand>(({ sendBack, receive }) => {
        receive((cmd) => {
          sent.push(cmd);
          if (options.autoStore === false) return;
          for (const m of cmd.messages) wire.push(label(m));
          sendBack({ type: 'batch.stored', lastSeq: cmd.lastSeq, count: cmd.messages.filter((m) => m.kind === 'data').length });
        });
        sendBack({ type: 'sender.ready' });
        return () => {};
      }),
    },
    actions: { logRetry: ({ context }) => retries.push(retryMessage(context)) },
  });
  const actor = createActor(machine, {
    clock,
    input: { sessionId: 'race-1', setup: { track: 'x' }, timing: TIMING, random: options.random ?? (() => 1), now: () => clock.now() },
  });
  actor.start();
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return { actor, clock, wire, retries, sent, settle, state: () => statePath(actor.getSnapshot().value) };
}

function label(m: OutboundMessage): string {
  return m.kind === 'gap' ? `gap:${m.gap.dropped}:${m.gap.first_seq}-${m.gap.last_seq}` : `data:${m.sample.seq}`;
}

describe('fullJitterDelay', () => {
  it('draws from [0, min(max, initial·2^n)]', () => {
    const p = { initialMs: 1_000, maxMs: 60_000, factor: 2 };
    expect([0, 1, 2, 5, 6, 10].map((n) => fullJitterDelay(p, n, () => 1))).toEqual([1_000, 2_000, 4_000, 32_000, 60_000, 60_000]);
    expect(fullJitterDelay(p, 3, () => 0)).toBe(0);
    expect(fullJitterDelay(p, 3, () => 0.5)).toBe(4_000);
  });
});

describe('telemetryPublisher machine', () => {
  it('backs off exponentially with full jitter, logs each attempt, and resets after a stable connection', async () => {
    let failures = 4;
    const h = harness({ connectOk: () => failures-- <= 0 });
    await h.settle();
    expect(h.state()).toBe('reconnecting');
    expect(h.retries).toEqual(['Connection failed (attempt 1): ECONNREFUSED; retrying in 1.0 s']);
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      delays.push(h.actor.getSnapshot().context.retryInMs);
      h.clock.increment(h.actor.getSnapshot().context.retryInMs);
      await h.settle();
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000]); // random() = 1: the cap itself; capped at 8 s
    expect(h.retries.at(-1)).toBe('Connection failed (attempt 4): ECONNREFUSED; retrying in 8.0 s');
    expect(h.state()).toBe('connected.streaming');
    expect(h.actor.getSnapshot().context.attempt).toBe(4);
    h.clock.increment(5_000);
    expect(h.actor.getSnapshot().context.attempt).toBe(0);
  });

  it('re-sends setup first after every reconnect, then the buffered samples in order', async () => {
    let up = true;
    const h = harness({ connectOk: () => up });
    await h.settle();
    h.actor.send({ type: 'telemetry', data: { lap: 1 } });
    await h.settle();
    expect(h.wire).toEqual(['setup:{"track":"x"}', 'data:1']);
    up = false;
    h.actor.send({ type: 'link.lost', message: 'connection closed' });
    expect(h.state()).toBe('reconnecting');
    for (let i = 2; i <= 4; i++) h.actor.send({ type: 'telemetry', data: { lap: i } });
    up = true;
    h.clock.increment(1_000);
    await h.settle();
    await h.settle();
    expect(h.wire).toEqual(['setup:{"track":"x"}', 'data:1', 'setup:{"track":"x"}', 'data:2', 'data:3', 'data:4']);
    expect(h.actor.getSnapshot().context.buffer).toEqual([]);
    expect(h.actor.getSnapshot().context.published).toBe(4);
  });

  it('bounds the buffer: drops the oldest, counts them and publishes the gap before the rest', async () => {
    let up = false;
    const h = harness({ connectOk: () => up });
    await h.settle();
    for (let i = 1; i <= 8; i++) h.actor.send({ type: 'telemetry', data: { lap: i } });
    const c = h.actor.getSnapshot().context;
    expect(c.buffer.map((s) => s.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(c.gap).toEqual({ dropped: 3, first_seq: 1, last_seq: 3 });
    up = true;
    h.clock.increment(1_000);
    await h.settle();
    await h.settle();
    expect(h.wire).toEqual(['setup:{"track":"x"}', 'gap:3:1-3', 'data:4', 'data:5', 'data:6', 'data:7', 'data:8']);
    expect(h.actor.getSnapshot().context.droppedTotal).toBe(3);
    expect(h.actor.getSnapshot().context.gap).toBeNull();
  });

  it('keeps an unacknowledged batch: a publish failure reconnects and sends it again', async () => {
    const h = harness({ connectOk: () => true, autoStore: false });
    await h.settle();
    h.actor.send({ type: 'telemetry', data: { lap: 1 } });
    h.actor.send({ type: 'telemetry', data: { lap: 2 } });
    expect(h.sent.map((c) => c.lastSeq)).toEqual([1]); // one batch in flight at a time
    h.actor.send({ type: 'batch.failed', message: 'timeout' });
    expect(h.state()).toBe('reconnecting');
    expect(h.actor.getSnapshot().context.error?.code).toBe('PUBLISH_FAILED');
    h.clock.increment(1_000);
    await h.settle();
    await h.settle();
    expect(h.sent.at(-1)!.messages.map(label)).toEqual(['data:1', 'data:2']);
  });

  it('never drops a sample in flight to make room', () => {
    const context = {
      buffer: [1, 2, 3].map((seq) => ({ seq, at: '', data: {} })),
      gap: null,
      droppedTotal: 0,
      timing: { bufferCapacity: 3 } as PublisherTiming,
      inFlight: { gap: null, samples: [1, 2].map((seq) => ({ seq, at: '', data: {} })) },
    };
    const next = enqueueSample(context, { seq: 4, at: '', data: {} });
    expect(next.buffer.map((s) => s.seq)).toEqual([1, 2, 4]);
    expect(next.gap).toEqual({ dropped: 1, first_seq: 3, last_seq: 3 });
  });
});
