import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { hostActor } from '../../services/runtime/host.ts';
import { statePath } from '../../services/runtime/statePath.ts';
import type { TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { recordJson, transitionRecordSchema } from '../../services/bus/schemas/transitionRecord.ts';

const machine = setup({
  types: { context: {} as { n: number }, events: {} as { type: 'go' } | { type: 'noop' } | { type: 'bump' } },
}).createMachine({
  id: 'demo',
  context: { n: 0 },
  initial: 'idle',
  states: {
    idle: { on: { go: 'transient', bump: { actions: assign({ n: ({ context }) => context.n + 1 }) } } },
    transient: { always: 'nested' },
    nested: { initial: 'a', states: { a: { on: { go: 'b' } }, b: { type: 'final' } }, onDone: 'done' },
    done: {},
  },
});

function collect() {
  const records: TransitionRecord[] = [];
  return { records, sink: { enqueue: (r: TransitionRecord, cb?: () => void) => { records.push(r); cb?.(); } } };
}

describe('hostActor', () => {
  it('records the start, every microstep (0 ms states too) and context-only transitions, numbered gap-free', () => {
    const { records, sink } = collect();
    const hosted = hostActor({ machine, kind: 'device', id: 'dev:1', sink, summarize: (s) => ({ n: s.context.n }) });
    hosted.send({ type: 'bump' });
    hosted.send({ type: 'noop' });
    hosted.send({ type: 'go' });
    hosted.send({ type: 'go' });
    expect(records.map((r) => [r.seq, r.from, r.to, r.event])).toEqual([
      [1, null, 'idle', 'xstate.init'],
      [2, 'idle', 'idle', 'bump'],
      [3, 'idle', 'transient', 'go'],
      [4, 'transient', 'nested.a', 'go'],
      [5, 'nested.a', 'nested.b', 'go'],
      [6, 'nested.b', 'done', 'xstate.done.state.demo.nested'],
    ]);
    expect(records[1]!.context).toEqual({ n: 1 });
    for (const r of records) {
      expect(transitionRecordSchema.parse(r)).toEqual(r);
      expect(r.incarnation).toBe(hosted.incarnation);
    }
  });

  it('prints each record (the outbox publishes that text) exactly as JSON.stringify would, error included', () => {
    const { records, sink } = collect();
    const error = { code: 'X"Y', message: 'quote " and ünïcode', component: 'demo', severity: 'error' as const, timestamp: '2026-01-01T00:00:00.000Z', retryable: true, details: { a: [1, null] } };
    const hosted = hostActor({ machine, kind: 'device', id: 'dev:"1"', sink, summarize: (s) => ({ n: s.context.n, s: 'é\n' }), errorOf: (s) => (s.context.n > 0 ? error : undefined) });
    hosted.send({ type: 'bump' });
    hosted.send({ type: 'go' });
    expect(records.some((r) => r.error)).toBe(true);
    for (const r of records) expect(recordJson(r)).toBe(JSON.stringify(r));
  });

  it('calls onStored after the last record an event produced, or at once when nothing changed', () => {
    const stored: number[] = [];
    const pending: Array<() => void> = [];
    const records: TransitionRecord[] = [];
    const hosted = hostActor({
      machine, kind: 'device', id: 'x', sink: { enqueue: (r, cb) => { records.push(r); if (cb) pending.push(() => { stored.push(r.seq); cb(); }); } },
    });
    let calls = 0;
    hosted.send({ type: 'noop' }, () => calls++);
    expect(calls).toBe(1);
    hosted.send({ type: 'go' }, () => calls++);
    expect(pending).toHaveLength(1);
    pending[0]!();
    expect(stored).toEqual([3]);
    expect(calls).toBe(2);
  });

  it('writes parallel regions as comma-joined dotted paths', () => {
    expect(statePath({ ready: { link: 'up', sync: { syncing: 'keys' } } })).toBe('ready.link.up,ready.sync.syncing.keys');
    expect(statePath('idle')).toBe('idle');
  });
});

describe('hostActor recording rule', () => {
  it('skips microsteps that change neither the state path nor the public summary', () => {
    const { records, sink } = collect();
    const hosted = hostActor({ machine, kind: 'device', id: 'quiet', sink, summarize: () => ({}) });
    hosted.send({ type: 'bump' });
    expect(records.map((r) => r.event)).toEqual(['xstate.init']);
  });
});
