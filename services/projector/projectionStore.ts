import type { ActorEntry, FlowEntry } from '../bus/schemas/projections.ts';
import { compareVersions, versionOf, type Effect } from './effects.ts';
import { mergeFlow } from './flowMerge.ts';
import { jsonEqual } from './jsonEqual.ts';
import { carryActorEntry } from './reducers/actorRecord.ts';
import { isEnded, withEndedIncarnation } from './endedIncarnations.ts';
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
  /**
   * `stage` only: the batch's writes wait for this (writeBehind.ts); false means they are
   * not made and the batch's `written` rejects.
   */
  writeAfter?: Promise<boolean>;
}

export interface StagedBatch {
  /** Resolves with the changes once every write of the batch has landed; rejects if one fails. */
  written: Promise<Change[]>;
}

export interface ProjectionStore {
  /**
   * Applies a batch of effects in order and writes the final value of every key it
   * changed (coalesced: one write per key per batch). Resolves with the changes once
   * they are all written; rejects if a write fails (see `invalidate`).
   */
  apply(effects: Effect[], options?: ApplyOptions): Promise<Change[]>;
  /**
   * The first half of `apply`: computes the batch against the cache (which already holds
   * what earlier staged batches will write), announces it through `early`, and starts its
   * writes, each after the previous write of the same key. Resolves once computed, so the
   * next batch can be computed and announced while this one is written.
   */
  stage(effects: Effect[], options?: ApplyOptions): Promise<StagedBatch>;
  /** After a failed write: these keys are read again from the backend before their next use. */
  invalidate(keys: Array<{ bucket: string; key: string }>): void;
  /**
   * Loads every entry of buckets this store is the only writer of; a key it then does not
   * hold is known to be absent, so applying effects to it needs no read from KV.
   */
  preload(buckets: string[]): Promise<void>;
  /** Forgets the cache (e.g. after a replay wiped the buckets). */
  reset(): void;
}

const MAX_CAS_RETRIES = 5;

/** The keys applying `effects` reads: their own, and the `endIncarnation` keys fencing a put. */
function keysRead(effects: Effect[]): Array<{ bucket: string; key: string }> {
  const keys: Array<{ bucket: string; key: string }> = [];
  for (const e of effects) {
    if ((e.op === 'put' || e.op === 'delete') && e.fence) keys.push(e.fence);
    keys.push(e);
  }
  return keys;
}

/** What the store knows of one key: the value it will hold and what the backend holds now. */
interface CachedKey {
  /** The value once every staged write of this key has landed. */
  value: unknown | null;
  /** What the backend was last seen holding, and its revision (0: absent). */
  stored: unknown | null;
  revision: number;
  /** Resolves when the last staged write of this key has settled. */
  tail: Promise<unknown>;
  pending: number;
  /** The last write staged for this key. */
  last?: Promise<WriteOutcome>;
}

/** A write skipped because a later batch's write of the same key (which includes it) was staged. */
const SUPERSEDED = Symbol('superseded');
type WriteOutcome = typeof SUPERSEDED | undefined;

/** Resolves once `write`, or the later write that superseded it, has landed; rejects if that one fails. */
async function landed(entry: CachedKey, write: Promise<WriteOutcome>): Promise<void> {
  // superseded means a later write was staged: entry.last has moved on to it (or past it)
  for (let w = write; (await w) === SUPERSEDED; ) w = entry.last!;
}

/**
 * The projector's view of its buckets: a write-through cache over the backend. The
 * projector is their only writer except for `flows`, which the hub also writes at
 * intake; flow writes therefore use compare-and-set and re-merge on a conflict.
 */
export function createProjectionStore(backend: ProjectionBackend): ProjectionStore {
  let cache = new Map<string, CachedKey>();
  let complete = new Set<string>();
  const stale = new Set<string>();
  const id = (bucket: string, key: string): string => `${bucket}\u0000${key}`;
  const cached = (loaded: StoredValue): CachedKey => ({ value: loaded.value, stored: loaded.value, revision: loaded.revision, tail: Promise.resolve(), pending: 0 });

  async function ensureLoaded(effects: Effect[]): Promise<void> {
    const missing = new Map<string, { bucket: string; key: string }>();
    for (const e of keysRead(effects)) {
      const k = id(e.bucket, e.key);
      if (cache.has(k) || missing.has(k)) continue;
      if (complete.has(e.bucket) && !stale.has(k)) cache.set(k, cached({ value: null, revision: 0 }));
      else missing.set(k, e);
    }
    await Promise.all(
      [...missing].map(async ([k, e]) => {
        const loaded = await backend.load(e.bucket, e.key);
        if (!cache.has(k)) cache.set(k, cached(loaded));
        stale.delete(k);
      }),
    );
  }

  function next(current: unknown | null, effect: Effect, valueAt: (bucket: string, key: string) => unknown | null): unknown | null {
    switch (effect.op) {
      case 'put': {
        const stored = versionOf(current);
        if (effect.fence && isEnded(valueAt(effect.fence.bucket, effect.fence.key), effect.version.incarnation)) return current;
        return stored && compareVersions(stored, effect.version) > 0 ? current : effect.value;
      }
      case 'putActor': {
        const stored = versionOf(current);
        if (stored && compareVersions(stored, effect.version) > 0) return current;
        return carryActorEntry((current ?? undefined) as ActorEntry | undefined, effect.value);
      }
      case 'delete': {
        const stored = versionOf(current);
        if (effect.fence && isEnded(valueAt(effect.fence.bucket, effect.fence.key), effect.version.incarnation)) return current;
        if (effect.onlyIncarnation !== undefined) return stored && stored.incarnation !== effect.onlyIncarnation ? current : null;
        return stored && stored.incarnation > effect.version.incarnation ? current : null;
      }
      case 'endIncarnation':
        return withEndedIncarnation(current, effect.id, effect.incarnation);
      case 'mergeFlow':
        return mergeFlow((current ?? undefined) as FlowEntry | undefined, effect.value);
    }
  }

  /**
   * Joins `value` into what the backend holds and writes the join with compare-and-set,
   * re-merging on a conflict. `wrote` false: the backend already held it (another writer
   * stored it, and reports that change).
   */
  async function writeFlow(bucket: string, key: string, value: FlowEntry, entry: CachedKey): Promise<{ value: FlowEntry; wrote: boolean }> {
    let current: StoredValue = { value: entry.stored, revision: entry.revision };
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      const merged = mergeFlow((current.value ?? undefined) as FlowEntry | undefined, value);
      if (current.value !== null && (merged === current.value || jsonEqual(merged, current.value))) {
        entry.stored = current.value;
        entry.revision = current.revision;
        return { value: merged, wrote: false };
      }
      const result = await backend.write(bucket, key, merged, current.revision);
      if (result.ok) {
        entry.stored = merged;
        entry.revision = result.revision;
        return { value: merged, wrote: true };
      }
      current = await backend.load(bucket, key);
    }
    throw new Error(`flow ${key}: too many concurrent writers`);
  }

  async function stage(effects: Effect[], options: ApplyOptions = {}): Promise<StagedBatch> {
    if (effects.length === 0) return { written: Promise.resolve([]) };
    await ensureLoaded(effects);
    const before = new Map<string, unknown | null>();
    const working = new Map<string, { bucket: string; key: string; value: unknown | null; flow: boolean }>();
    const valueAt = (bucket: string, key: string): unknown | null => {
      const k = id(bucket, key);
      return working.has(k) ? working.get(k)!.value : (cache.get(k)?.value ?? null);
    };
    for (const effect of effects) {
      const k = id(effect.bucket, effect.key);
      if (!before.has(k)) before.set(k, cache.get(k)!.value);
      const current = working.has(k) ? working.get(k)!.value : before.get(k)!;
      working.set(k, { bucket: effect.bucket, key: effect.key, value: next(current, effect, valueAt), flow: effect.op === 'mergeFlow' });
    }
    const dirty = [...working].filter(([k, w]) => !jsonEqual(w.value, before.get(k)));
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
    const changes: Change[] = [];
    const report = (k: string, change: Change): void => {
      // the same object: written as announced (a compare-and-set re-merge makes a new one)
      if (!announced.has(k) || announced.get(k) !== change.value) changes.push(change);
    };
    const writes = dirty.map(([k, w]) => {
      const entry = cache.get(k)!;
      entry.value = w.value;
      entry.pending += 1;
      const gate = options.writeAfter;
      const write: Promise<WriteOutcome> = entry.tail.then(async () => {
        if (gate && !(await gate)) throw new Error('not written: the projector was fenced off');
        // a later batch staged this key before this write's turn came: its value includes
        // this one, and writing it alone is enough (this batch is done when it lands)
        if (entry.last !== write) return SUPERSEDED;
        if (w.flow && w.value !== null) {
          const written = await writeFlow(w.bucket, w.key, w.value as FlowEntry, entry);
          // a re-merge took in another writer's entry: later batches' values keep it too
          entry.value = entry.pending > 1 ? mergeFlow(written.value, entry.value as FlowEntry) : written.value;
          if (written.wrote) report(k, { bucket: w.bucket, key: w.key, value: written.value });
        } else {
          const result = await backend.write(w.bucket, w.key, w.value);
          entry.stored = w.value;
          entry.revision = result.ok ? result.revision : 0;
          report(k, { bucket: w.bucket, key: w.key, value: w.value });
        }
      });
      entry.last = write;
      entry.tail = write.then(
        () => void (entry.pending -= 1),
        () => void (entry.pending -= 1),
      );
      return landed(entry, write);
    });
    const written = Promise.allSettled(writes).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return changes;
    });
    written.catch(() => {}); // the caller awaits it; a failure must not go unhandled meanwhile
    return { written };
  }

  function invalidate(keys: Array<{ bucket: string; key: string }>): void {
    for (const { bucket, key } of keys) {
      const k = id(bucket, key);
      cache.delete(k);
      stale.add(k);
    }
  }

  return {
    stage,
    invalidate,
    async apply(effects, options = {}) {
      const staged = await stage(effects, options);
      try {
        return await staged.written;
      } catch (err) {
        // some keys may be written, some not: read them all again on the retry
        invalidate(effects);
        throw err;
      }
    },
    async preload(buckets) {
      for (const bucket of buckets) {
        const keys = await backend.keys(bucket);
        await Promise.all(keys.map(async (key) => cache.set(id(bucket, key), cached(await backend.load(bucket, key)))));
        complete.add(bucket);
      }
    },
    reset() {
      cache = new Map();
      complete = new Set();
      stale.clear();
    },
  };
}
