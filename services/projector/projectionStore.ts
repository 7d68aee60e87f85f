import type { ActorEntry, FlowEntry } from '../bus/schemas/projections.ts';
import { compareVersions, versionOf, type Effect } from './effects.ts';
import { mergeFlow } from './flowMerge.ts';
import { carryActorEntry } from './reducers/actorRecord.ts';
import type { ProjectionBackend, StoredValue } from './backend.ts';

export interface Change {
  bucket: string;
  key: string;
  /** null: the key was deleted. */
  value: unknown | null;
}

export interface ApplyOptions {
  /**
   * Called with the changes the batch makes, once computed and before they are written,
   * so they can be broadcast without waiting for KV: the log already holds their cause,
   * and a failed write is retried until it lands. A `started` flow is left out (the hub
   * may have written and broadcast it already); `apply` then returns only what `early`
   * has not announced, or announced with another value.
   */
  early?: (changes: Change[]) => void;
}

export interface ProjectionStore {
  /**
   * Applies a batch of effects in order and writes the final value of every key it
   * changed (coalesced: one write per key per batch). Resolves with the changes once
   * they are all written; rejects (changing nothing in the cache) if a write fails.
   */
  apply(effects: Effect[], options?: ApplyOptions): Promise<Change[]>;
  /**
   * Loads every entry of buckets this store is the only writer of; a key it then does not
   * hold is known to be absent, so applying effects to it needs no read from KV.
   */
  preload(buckets: string[]): Promise<void>;
  /** Forgets the cache (e.g. after a replay wiped the buckets). */
  reset(): void;
}

const MAX_CAS_RETRIES = 5;

/**
 * The projector's view of its buckets: a write-through cache over the backend. The
 * projector is their only writer except for `flows`, which the hub also writes at
 * intake; flow writes therefore use compare-and-set and re-merge on a conflict.
 */
export function createProjectionStore(backend: ProjectionBackend): ProjectionStore {
  let cache = new Map<string, StoredValue>();
  let complete = new Set<string>();
  const id = (bucket: string, key: string): string => `${bucket}\u0000${key}`;

  async function ensureLoaded(effects: Effect[]): Promise<void> {
    const missing = new Map<string, Effect>();
    for (const e of effects) {
      const k = id(e.bucket, e.key);
      if (cache.has(k) || missing.has(k)) continue;
      if (complete.has(e.bucket)) cache.set(k, { value: null, revision: 0 });
      else missing.set(k, e);
    }
    await Promise.all(
      [...missing].map(async ([k, e]) => {
        cache.set(k, await backend.load(e.bucket, e.key));
      }),
    );
  }

  function next(current: unknown | null, effect: Effect): unknown | null {
    switch (effect.op) {
      case 'put': {
        const stored = versionOf(current);
        return stored && compareVersions(stored, effect.version) > 0 ? current : effect.value;
      }
      case 'putActor': {
        const stored = versionOf(current);
        if (stored && compareVersions(stored, effect.version) > 0) return current;
        return carryActorEntry((current ?? undefined) as ActorEntry | undefined, effect.value);
      }
      case 'delete': {
        const stored = versionOf(current);
        return stored && stored.incarnation > effect.version.incarnation ? current : null;
      }
      case 'mergeFlow':
        return mergeFlow((current ?? undefined) as FlowEntry | undefined, effect.value);
    }
  }

  /** `wrote` false: another writer already stored what this one would have (it reports that change). */
  async function writeFlow(bucket: string, key: string, value: FlowEntry, stored: StoredValue): Promise<{ stored: StoredValue; wrote: boolean }> {
    let current = stored;
    let merged = value;
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      const result = await backend.write(bucket, key, merged, current.revision);
      if (result.ok) return { stored: { value: merged, revision: result.revision }, wrote: true };
      current = await backend.load(bucket, key);
      merged = mergeFlow((current.value ?? undefined) as FlowEntry | undefined, value);
      if (JSON.stringify(merged) === JSON.stringify(current.value)) return { stored: current, wrote: false };
    }
    throw new Error(`flow ${key}: too many concurrent writers`);
  }

  return {
    async apply(effects, options = {}) {
      if (effects.length === 0) return [];
      await ensureLoaded(effects);
      const before = new Map<string, StoredValue>();
      const working = new Map<string, { bucket: string; key: string; value: unknown | null; flow: boolean }>();
      for (const effect of effects) {
        const k = id(effect.bucket, effect.key);
        const stored = cache.get(k)!;
        if (!before.has(k)) before.set(k, stored);
        const current = working.get(k)?.value ?? (working.has(k) ? null : stored.value);
        working.set(k, { bucket: effect.bucket, key: effect.key, value: next(current, effect), flow: effect.op === 'mergeFlow' });
      }
      const changes: Change[] = [];
      const writes: Array<Promise<void>> = [];
      const dirty = [...working].filter(([k, w]) => JSON.stringify(w.value) !== JSON.stringify(before.get(k)!.value));
      const announced = new Map<string, unknown>();
      if (options.early) {
        const early: Change[] = [];
        for (const [k, w] of dirty) {
          if (w.flow && (w.value as FlowEntry | null)?.status === 'started') continue;
          early.push({ bucket: w.bucket, key: w.key, value: w.value });
          announced.set(k, w.value);
        }
        options.early(early);
      }
      const report = (k: string, change: Change): void => {
        // the same object: written as announced (a compare-and-set re-merge makes a new one)
        if (!announced.has(k) || announced.get(k) !== change.value) changes.push(change);
      };
      for (const [k, w] of dirty) {
        const stored = before.get(k)!;
        writes.push(
          (async () => {
            if (w.flow && w.value !== null) {
              const written = await writeFlow(w.bucket, w.key, w.value as FlowEntry, stored);
              cache.set(k, written.stored);
              if (written.wrote) report(k, { bucket: w.bucket, key: w.key, value: written.stored.value });
            } else {
              const result = await backend.write(w.bucket, w.key, w.value);
              cache.set(k, { value: w.value, revision: result.ok ? result.revision : 0 });
              report(k, { bucket: w.bucket, key: w.key, value: w.value });
            }
          })(),
        );
      }
      const results = await Promise.allSettled(writes);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        // some keys may be written, some not: forget them all and reload on the retry
        for (const k of working.keys()) cache.delete(k);
        throw failed.reason;
      }
      return changes;
    },
    async preload(buckets) {
      for (const bucket of buckets) {
        const keys = await backend.keys(bucket);
        await Promise.all(keys.map(async (key) => cache.set(id(bucket, key), await backend.load(bucket, key))));
        complete.add(bucket);
      }
    },
    reset() {
      cache = new Map();
      complete = new Set();
    },
  };
}
