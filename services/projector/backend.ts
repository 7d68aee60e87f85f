import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

export interface StoredValue {
  value: unknown | null;
  /** KV revision (0 when the key never existed). */
  revision: number;
}

export type WriteResult = { ok: true; revision: number } | { ok: false; conflict: true };

/** Where projections live: NATS KV in production, memory for `replayToMemory`. */
export interface ProjectionBackend {
  load(bucket: string, key: string): Promise<StoredValue>;
  /** `value` null deletes. With `expectedRevision`, writes only if the key is still at it. */
  write(bucket: string, key: string, value: unknown | null, expectedRevision?: number): Promise<WriteResult>;
  keys(bucket: string): Promise<string[]>;
}

export function createKvBackend(nc: NatsConnection): ProjectionBackend {
  const kvm = new Kvm(nc);
  const buckets = new Map<string, Promise<KV>>();
  const open = (bucket: string): Promise<KV> => {
    let kv = buckets.get(bucket);
    if (!kv) {
      kv = kvm.open(bucket);
      buckets.set(bucket, kv);
      kv.catch(() => buckets.delete(bucket));
    }
    return kv;
  };
  return {
    async load(bucket, key) {
      const entry = await (await open(bucket)).get(key);
      if (!entry) return { value: null, revision: 0 };
      if (entry.operation !== 'PUT') return { value: null, revision: entry.revision };
      return { value: entry.json(), revision: entry.revision };
    },
    async write(bucket, key, value, expectedRevision) {
      const kv = await open(bucket);
      if (value === null) {
        await kv.delete(key);
        return { ok: true, revision: 0 };
      }
      const data = JSON.stringify(value);
      if (expectedRevision === undefined) return { ok: true, revision: await kv.put(key, data) };
      try {
        const revision = expectedRevision === 0 ? await kv.create(key, data) : await kv.update(key, data, expectedRevision);
        return { ok: true, revision };
      } catch (err) {
        if (isRevisionConflict(err)) return { ok: false, conflict: true };
        throw err;
      }
    },
    async keys(bucket) {
      const out: string[] = [];
      for await (const key of await (await open(bucket)).keys()) out.push(key);
      return out;
    },
  };
}

function isRevisionConflict(err: unknown): boolean {
  const message = (err as Error)?.message ?? '';
  return /wrong last sequence|key exists/i.test(message);
}

export function createMemoryBackend(): ProjectionBackend & { dump(): Record<string, Record<string, unknown>> } {
  const data = new Map<string, Map<string, { value: unknown; revision: number }>>();
  let revision = 0;
  const bucketOf = (bucket: string) => {
    let b = data.get(bucket);
    if (!b) data.set(bucket, (b = new Map()));
    return b;
  };
  return {
    async load(bucket, key) {
      const entry = bucketOf(bucket).get(key);
      return entry ? { value: structuredClone(entry.value), revision: entry.revision } : { value: null, revision: 0 };
    },
    async write(bucket, key, value, expectedRevision) {
      const b = bucketOf(bucket);
      if (expectedRevision !== undefined && (b.get(key)?.revision ?? 0) !== expectedRevision) return { ok: false, conflict: true };
      if (value === null) {
        b.delete(key);
        return { ok: true, revision: 0 };
      }
      b.set(key, { value: structuredClone(value), revision: ++revision });
      return { ok: true, revision };
    },
    async keys(bucket) {
      return [...bucketOf(bucket).keys()];
    },
    dump() {
      const out: Record<string, Record<string, unknown>> = {};
      for (const [bucket, entries] of data) {
        out[bucket] = Object.fromEntries([...entries].map(([k, v]) => [k, v.value]));
      }
      return out;
    },
  };
}
