import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import {
  DEFAULT_RPC_TIMING,
  rpcPollerMachine,
  summarizeRpcPoller,
  type PolledMethod,
  type RpcCallInput,
  type RpcCallResult,
  type RpcPollerTiming,
} from '../../machines/rpcPoller.ts';
import { transitionRecordSchema, type TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { hostActor } from '../../services/runtime/host.ts';
import { statePath } from '../../services/runtime/statePath.ts';

// The poller hosted as in production (records included), its HTTP call replaced by a
// scripted answer, time driven by a SimulatedClock.

const METHODS: PolledMethod[] = [
  { method: 'system_status', message: 'system_status' },
  { method: 'storage_info', message: 'storage_update' },
];
const OK = (data: unknown = { up: true }, durationMs = 5): RpcCallResult => ({ ok: true, data, durationMs });
const DOWN: RpcCallResult = { ok: false, code: 'CONNECTION_REFUSED', reason: 'connection refused', durationMs: 1 };

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function poller(timing: Partial<RpcPollerTiming> = {}, answer: (input: RpcCallInput) => RpcCallResult = () => OK()) {
  const clock = new SimulatedClock();
  const calls: Array<RpcCallInput & { at: number }> = [];
  const records: TransitionRecord[] = [];
  let respond = answer;
  const machine = rpcPollerMachine.provide({
    actors: {
      callMethod: fromPromise<RpcCallResult, RpcCallInput>(async ({ input }) => {
        calls.push({ ...input, at: clock.now() });
        return respond(input);
      }),
    },
  });
  const hosted = hostActor({
    machine,
    kind: 'rpc',
    id: 'backend',
    input: { poller: 'backend', url: 'http://x/rpc', methods: METHODS, timing: { ...timing }, now: () => clock.now() },
    sink: { enqueue: (r) => records.push(transitionRecordSchema.parse(r)) },
    summarize: (s) => summarizeRpcPoller(s.context, String(statePath(s.value)).split('.')[0] as never),
    errorOf: (s) => s.context.error ?? undefined,
    now: () => clock.now(),
    clock,
  });
  return {
    clock,
    calls,
    records,
    actor: hosted.actor,
    state: () => statePath(hosted.actor.getSnapshot().value),
    context: () => hosted.actor.getSnapshot().context,
    answer: (fn: (input: RpcCallInput) => RpcCallResult) => (respond = fn),
    /** Advances simulated time in steps, letting the promise actors settle in between. */
    async advance(ms: number, step = 100) {
      await flush();
      for (let t = 0; t < ms; t += step) {
        clock.increment(Math.min(step, ms - t));
        await flush();
      }
    },
  };
}

describe('rpcPoller: closed', () => {
  it('calls every method of a cycle one after the other, then waits the interval', async () => {
    const p = poller({ intervalMs: 5_000 });
    await p.advance(0);
    expect(p.calls.map((c) => [c.method, c.at, c.purpose])).toEqual([
      ['system_status', 0, 'poll'],
      ['storage_info', 0, 'poll'],
    ]);
    expect(p.state()).toBe('closed.waiting');
    await p.advance(4_900);
    expect(p.calls).toHaveLength(2);
    await p.advance(100);
    expect(p.calls).toHaveLength(4);
    // every good result is in a record (the projector caches it)
    const last = p.records.at(-1)!;
    expect(last.context).toMatchObject({ circuit: 'closed', last_call: { method: 'storage_info', ok: true, data: { up: true } } });
  });

  it('opens after failureThreshold consecutive failures with RPC_FAILURE per failure, then CIRCUIT_OPEN', async () => {
    const p = poller({ failureThreshold: 3, intervalMs: 1_000 }, () => DOWN);
    await p.advance(1_000);
    expect(p.state()).toBe('open.waiting');
    expect(p.calls).toHaveLength(3);
    const failures = p.records.filter((r) => r.error?.code === 'RPC_FAILURE');
    expect(failures).toHaveLength(2); // the third failure's record carries CIRCUIT_OPEN as its error…
    expect(failures[0]!.error!.details).toMatchObject({ method: 'system_status', reason: 'connection refused', consecutive_failures: 1 });
    const open = p.records.at(-1)!;
    expect(open.to).toBe('open.waiting');
    expect(open.error).toMatchObject({ code: 'CIRCUIT_OPEN', severity: 'error', retryable: true, details: { reason: 'consecutive_failures', consecutive_failures: 3 } });
    // … and its own RPC_FAILURE is the record's last_failure
    expect((open.context as any).last_failure).toMatchObject({ code: 'RPC_FAILURE', details: { consecutive_failures: 3 } });
  });

  it('a success resets the consecutive count: failures that are not consecutive do not open it', async () => {
    let n = 0;
    const p = poller({ failureThreshold: 3, intervalMs: 1_000, minimumCalls: 100 }, () => (n++ % 2 === 0 ? DOWN : OK()));
    await p.advance(10_000);
    expect(p.state()).toMatch(/^closed/);
    expect(p.context().consecutiveFailures).toBeLessThan(3);
  });

  it('opens on the failure rate over the rolling window once minimumCalls were made', async () => {
    // fail, ok, fail, ok … at 50 %: never 3 in a row, but the rate reaches the threshold
    let n = 0;
    const p = poller({ failureThreshold: 99, failureRateThreshold: 0.5, minimumCalls: 6, windowMs: 60_000, intervalMs: 1_000 }, () =>
      n++ % 2 === 0 ? DOWN : OK(),
    );
    await p.advance(1_000);
    expect(p.state()).toMatch(/^closed/); // 3 calls < minimumCalls
    await p.advance(3_000);
    expect(p.state()).toBe('open.waiting');
    expect(p.records.at(-1)!.error).toMatchObject({ code: 'CIRCUIT_OPEN', details: { reason: 'failure_rate' } });
  });

  it('a slow call counts as a failure (SLOW_CALL) but its data is kept', async () => {
    const p = poller({ slowCallMs: 100, failureThreshold: 3, intervalMs: 1_000 }, () => OK({ v: 1 }, 250));
    await p.advance(1_000);
    expect(p.state()).toBe('open.waiting');
    const slow = p.records.find((r) => r.error?.code === 'RPC_FAILURE')!;
    expect(slow.error!.details).toMatchObject({ failure: 'SLOW_CALL', duration_ms: 250 });
    expect((slow.context as any).last_call).toMatchObject({ ok: false, code: 'SLOW_CALL', data: { v: 1 } });
  });
});

describe('rpcPoller: open and half-open', () => {
  const timing = { failureThreshold: 3, intervalMs: 1_000, openDurationMs: 30_000, probeIntervalMs: 10_000, halfOpenProbes: 2 };

  it('stays open openDuration, probing the health method every probeInterval without closing', async () => {
    const p = poller(timing, () => DOWN);
    await p.advance(1_000);
    expect(p.state()).toBe('open.waiting');
    const openedAt = p.clock.now();
    p.answer(() => OK());
    await p.advance(25_000);
    const probes = p.calls.filter((c) => c.purpose === 'probe');
    expect(probes.map((c) => c.at - openedAt)).toEqual([10_000, 20_000]);
    expect(probes.every((c) => c.method === 'system_status')).toBe(true);
    expect(p.state()).toMatch(/^open/); // a good probe does not close the circuit
    expect(p.context().lastProbe).toMatchObject({ ok: true });
  });

  it('half-open: closes after halfOpenProbes successful trials (error cleared, recoveredAt set)', async () => {
    const p = poller(timing, () => DOWN);
    await p.advance(1_000);
    p.answer(() => OK({ fresh: true }));
    await p.advance(30_000);
    const trials = p.calls.filter((c) => c.purpose === 'trial');
    expect(trials).toHaveLength(2);
    expect(p.state()).toMatch(/^closed/);
    expect(p.records.map((r) => r.to)).toContain('halfOpen.trying');
    const closing = p.records.find((r) => r.from === 'halfOpen.trying' && r.to.startsWith('closed'))!;
    expect(closing.context).toMatchObject({ circuit: 'closed', error: null, consecutive_failures: 0, recovered_at: expect.any(String) });
    // the next cycle starts at once: fresh data without waiting an interval
    expect(p.calls.filter((c) => c.purpose === 'poll').at(-1)!.at).toBe(trials.at(-1)!.at);
  });

  it('half-open: one failed trial opens the circuit again for another openDuration', async () => {
    const p = poller(timing, () => DOWN);
    await p.advance(1_000);
    let trials = 0;
    p.answer((input) => (input.purpose !== 'trial' || trials++ > 0 ? DOWN : OK())); // first trial ok, second fails
    await p.advance(30_000);
    expect(p.calls.filter((c) => c.purpose === 'trial')).toHaveLength(2);
    expect(p.state()).toMatch(/^open/);
    expect(p.context().error).toMatchObject({ code: 'CIRCUIT_OPEN' });
    const reopened = p.clock.now();
    p.answer(() => OK());
    await p.advance(29_000);
    expect(p.state()).toMatch(/^open/);
    await p.advance(1_100);
    expect(p.state()).toMatch(/^closed/);
    expect(p.clock.now() - reopened).toBeGreaterThanOrEqual(30_000);
  });

  it('every number is configuration: halfOpenProbes 1, openDuration 5 s', async () => {
    const p = poller({ ...timing, halfOpenProbes: 1, openDurationMs: 5_000, probeIntervalMs: 60_000 }, () => DOWN);
    await p.advance(1_000);
    p.answer(() => OK());
    await p.advance(5_000);
    expect(p.calls.filter((c) => c.purpose === 'trial')).toHaveLength(1);
    expect(p.state()).toMatch(/^closed/);
  });

  it('a rejected call (the service never should) is a CONNECTION_FAILED failure, not a crash', async () => {
    const p = poller({ failureThreshold: 2 }, () => {
      throw new Error('boom');
    });
    await p.advance(100);
    expect(p.state()).toBe('open.waiting');
    expect(p.context().lastFailure).toMatchObject({ code: 'RPC_FAILURE', details: { failure: 'CONNECTION_FAILED', reason: 'boom' } });
    expect(p.actor.getSnapshot().status).toBe('active');
  });

  it('poller.stop ends in stopped from any state', async () => {
    const p = poller(timing, () => DOWN);
    await p.advance(1_000);
    p.actor.send({ type: 'poller.stop' });
    expect(p.state()).toBe('stopped');
    expect(DEFAULT_RPC_TIMING).toMatchObject({ intervalMs: 5_000, failureThreshold: 3, openDurationMs: 30_000, probeIntervalMs: 10_000 });
  });
});

it('createActor without a provided callMethod fails calls instead of crashing', async () => {
  const actor = createActor(rpcPollerMachine, { input: { poller: 'p', url: 'u', methods: METHODS, timing: { failureThreshold: 1 } } });
  actor.start();
  await flush();
  expect(statePath(actor.getSnapshot().value)).toBe('open.waiting');
  actor.stop();
});
