import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemoryBackend, type ProjectionBackend } from '../../services/projector/backend.ts';
import type { Effect } from '../../services/projector/effects.ts';
import { createProjectionStore } from '../../services/projector/projectionStore.ts';
import { createWriteBehind } from '../../services/projector/writeBehind.ts';

const OPTIONS = { quietMs: 50, maxDelayMs: 250, maxMessages: 100, maxBatches: 4 };

/** Resolves to the gate's verdict, or 'closed' if it has not opened by now. */
async function state(gate: Promise<boolean>): Promise<boolean | 'closed'> {
  return Promise.race([gate, new Promise<'closed'>((r) => setImmediate(() => r('closed')))]);
}

describe('write-behind gates', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
  afterEach(() => vi.useRealTimers());

  it('open once the inbox has been quiet for quietMs, all together', async () => {
    const wb = createWriteBehind(OPTIONS);
    const a = wb.gate(1);
    const b = wb.gate(1);
    wb.quiet();
    vi.advanceTimersByTime(49);
    expect(await state(a)).toBe('closed');
    vi.advanceTimersByTime(1);
    expect([await state(a), await state(b)]).toEqual([true, true]);
    expect(wb.waiting()).toBe(0);
  });

  it('a new batch means the inbox was not quiet: the quiet period starts again', async () => {
    const wb = createWriteBehind(OPTIONS);
    const a = wb.gate(1);
    wb.quiet();
    vi.advanceTimersByTime(40);
    wb.gate(1);
    vi.advanceTimersByTime(40);
    expect(await state(a)).toBe('closed');
    wb.quiet();
    vi.advanceTimersByTime(50);
    expect(await state(a)).toBe(true);
  });

  it('never keeps a gate closed longer than maxDelayMs, however busy', async () => {
    const wb = createWriteBehind({ ...OPTIONS, maxBatches: 100 });
    const a = wb.gate(1);
    for (let t = 0; t < 240; t += 20) {
      vi.advanceTimersByTime(20);
      wb.gate(1);
    }
    expect(await state(a)).toBe('closed');
    vi.advanceTimersByTime(10);
    expect(await state(a)).toBe(true);
  });

  it('opens at once when maxMessages or maxBatches wait', async () => {
    const wb = createWriteBehind(OPTIONS);
    const big = wb.gate(99);
    expect(await state(big)).toBe('closed');
    wb.gate(1);
    expect(await state(big)).toBe(true);
    const gates = [wb.gate(1), wb.gate(1), wb.gate(1)];
    expect(await state(gates[0]!)).toBe('closed');
    wb.gate(1);
    expect(await Promise.all(gates.map(state))).toEqual([true, true, true]);
  });

  it('openAll(false): fenced off, nothing behind the gates may be written', async () => {
    const wb = createWriteBehind(OPTIONS);
    const a = wb.gate(1);
    wb.openAll(false);
    expect(await state(a)).toBe(false);
  });
});

const put = (key: string, seq: number): Effect => ({ op: 'put', bucket: 'actors', key, value: { incarnation: 'i1', seq }, version: { incarnation: 'i1', seq } });

/** Counts writes, and fails the ones `failing` names. */
function countingBackend(failing = new Set<string>()): ProjectionBackend & { writes: string[]; dump(): Record<string, Record<string, unknown>> } {
  const inner = createMemoryBackend();
  const writes: string[] = [];
  return {
    ...inner,
    dump: inner.dump,
    writes,
    async write(bucket, key, value, expectedRevision) {
      const label = `${key}@${(value as { seq: number }).seq}`;
      writes.push(label);
      if (failing.has(label)) throw new Error(`write of ${label} failed`);
      return inner.write(bucket, key, value, expectedRevision);
    },
  };
}

describe('projection store behind gates', () => {
  it('writes a key once when later batches staged it before the gates opened; every batch is done when that write lands', async () => {
    const backend = countingBackend();
    const store = createProjectionStore(backend);
    const wb = createWriteBehind(OPTIONS);
    const first = await store.stage([put('a', 1), put('b', 1)], { writeAfter: wb.gate(1) });
    const second = await store.stage([put('a', 2)], { writeAfter: wb.gate(1) });
    const third = await store.stage([put('a', 3)], { writeAfter: wb.gate(1) });
    expect(backend.writes).toEqual([]);
    wb.openAll();
    await Promise.all([first.written, second.written, third.written]);
    expect(backend.writes.sort()).toEqual(['a@3', 'b@1']);
    expect(backend.dump().actors).toEqual({ a: { incarnation: 'i1', seq: 3 }, b: { incarnation: 'i1', seq: 1 } });
  });

  it('a batch whose write was superseded fails with the write that superseded it', async () => {
    const store = createProjectionStore(countingBackend(new Set(['a@2'])));
    const wb = createWriteBehind(OPTIONS);
    const first = await store.stage([put('a', 1)], { writeAfter: wb.gate(1) });
    const second = await store.stage([put('a', 2)], { writeAfter: wb.gate(1) });
    wb.openAll();
    await expect(second.written).rejects.toThrow('write of a@2 failed');
    await expect(first.written).rejects.toThrow('write of a@2 failed');
  });

  it('writes nothing of batches whose gates open fenced', async () => {
    const backend = countingBackend();
    const store = createProjectionStore(backend);
    const wb = createWriteBehind(OPTIONS);
    const staged = await store.stage([put('a', 1)], { writeAfter: wb.gate(1) });
    wb.openAll(false);
    await expect(staged.written).rejects.toThrow('fenced');
    expect(backend.writes).toEqual([]);
  });
});
