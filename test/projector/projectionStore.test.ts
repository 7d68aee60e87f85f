import { describe, expect, it } from 'vitest';
import type { FlowEntry } from '../../services/bus/schemas/projections.ts';
import { createMemoryBackend, type ProjectionBackend } from '../../services/projector/backend.ts';
import type { Effect } from '../../services/projector/effects.ts';
import { createProjectionStore, type Change } from '../../services/projector/projectionStore.ts';

const flow = (status: FlowEntry['status'], updated: string, command = 'c1'): FlowEntry => ({
  node_id: 'n1',
  command_id: command,
  device_id: 'd1',
  status,
  accepted_at: '2026-11-22T10:00:00.000Z',
  updated_at: updated,
});
const mergeFlow = (value: FlowEntry): Effect => ({ op: 'mergeFlow', bucket: 'flows', key: 'n1', value });
const put = (key: string, seq: number): Effect => ({ op: 'put', bucket: 'actors', key, value: { incarnation: 'i1', seq }, version: { incarnation: 'i1', seq } });

/** A memory backend whose writes resolve only when the test releases them, in any order it likes. */
function gatedBackend(): ProjectionBackend & { release(): void; dump(): Record<string, Record<string, unknown>> } {
  const inner = createMemoryBackend();
  let gate!: () => void;
  let opened = new Promise<void>((r) => (gate = r));
  return {
    ...inner,
    dump: inner.dump,
    async write(bucket, key, value, expectedRevision) {
      await opened;
      return inner.write(bucket, key, value, expectedRevision);
    },
    release() {
      gate();
      opened = new Promise<void>((r) => (gate = r));
    },
  };
}

describe('projection store: staged batches', () => {
  it('computes and announces the next batch before the previous one is written, and writes in order', async () => {
    const backend = gatedBackend();
    const store = createProjectionStore(backend);
    const announced: Change[][] = [];
    const first = await store.stage([put('a', 1), put('b', 1)], { early: (c) => announced.push(c) });
    const second = await store.stage([put('a', 2)], { early: (c) => announced.push(c) });
    // both announced while nothing is written yet
    expect(announced.map((b) => b.map((c) => `${c.key}@${(c.value as { seq: number }).seq}`))).toEqual([['a@1', 'b@1'], ['a@2']]);
    expect(backend.dump().actors ?? {}).toEqual({});
    backend.release();
    await first.written;
    backend.release();
    await second.written;
    expect(backend.dump().actors).toEqual({ a: { incarnation: 'i1', seq: 2 }, b: { incarnation: 'i1', seq: 1 } });
  });

  it('a batch staged on top of an unwritten one sees its values (no change, nothing announced)', async () => {
    const store = createProjectionStore(gatedBackend());
    await store.stage([put('a', 3)]);
    const announced: Change[] = [];
    await store.stage([put('a', 2)], { early: (c) => announced.push(...c) });
    expect(announced).toEqual([]);
  });

  it('keeps what another writer stored in between: flows are joined, never overwritten', async () => {
    const backend = createMemoryBackend();
    const store = createProjectionStore(backend);
    await store.apply([mergeFlow(flow('started', '2026-11-22T10:00:00.000Z'))]);
    // the hub accepts a newer command for the same node behind the projector's back
    const newer = { ...flow('started', '2026-11-22T10:00:05.000Z', 'c2'), accepted_at: '2026-11-22T10:00:05.000Z' };
    const current = await backend.load('flows', 'n1');
    await backend.write('flows', 'n1', newer, current.revision);
    const first = await store.stage([mergeFlow(flow('in progress', '2026-11-22T10:00:01.000Z'))]);
    const second = await store.stage([mergeFlow(flow('failed', '2026-11-22T10:00:02.000Z'))]);
    await first.written;
    await second.written;
    expect(backend.dump().flows!.n1).toEqual(newer);
  });

  it('after a failed write, the keys are read again from the backend', async () => {
    const inner = createMemoryBackend();
    let failNext = true;
    const backend: ProjectionBackend = {
      ...inner,
      async write(bucket, key, value, expectedRevision) {
        if (failNext) {
          failNext = false;
          throw new Error('KV unavailable');
        }
        return inner.write(bucket, key, value, expectedRevision);
      },
    };
    const store = createProjectionStore(backend);
    await store.preload(['actors']);
    await expect(store.apply([put('a', 1)])).rejects.toThrow('KV unavailable');
    await inner.write('actors', 'a', { incarnation: 'i1', seq: 5 });
    const changes = await store.apply([put('a', 4)]);
    expect(changes).toEqual([]);
    expect(inner.dump().actors!.a).toEqual({ incarnation: 'i1', seq: 5 });
  });
});
