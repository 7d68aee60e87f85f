import type { TransitionRecord } from './schemas/transitionRecord.ts';

export interface GapEntry {
  record: TransitionRecord;
  /** The `onStored` callbacks of the dropped records: they run once the gap record is stored. */
  onStored: () => void;
}

export interface GapTracker {
  /** Remembers a record the outbox had to drop. */
  add(record: TransitionRecord, onStored?: () => void): void;
  /** The gap record of `next`'s actor incarnation, if it has one: it must be sent first. */
  takeBefore(next: TransitionRecord): GapEntry | undefined;
  /** Any remaining gap record (once the queue is empty). */
  takeAny(): GapEntry | undefined;
  size(): number;
}

interface Gap {
  first: TransitionRecord;
  last: TransitionRecord;
  count: number;
  callbacks: Array<() => void>;
}

/**
 * Per actor incarnation, the records dropped by overflow are summarised into one gap
 * record: `seq` and `to`/`context` of the last dropped record (so projections still end
 * in the right state), `from` of the first, and `context.gap = {dropped, first_seq, last_seq}`.
 * Its Nats-Msg-Id is that of the last dropped record, which was never published.
 */
export function createGapTracker(): GapTracker {
  const gaps = new Map<string, Gap>();
  const keyOf = (r: TransitionRecord): string => `${r.kind}\u0000${r.id}\u0000${r.incarnation}`;

  function toEntry(gap: Gap): GapEntry {
    return { record: toRecord(gap), onStored: () => gap.callbacks.forEach((cb) => cb()) };
  }

  function toRecord(gap: Gap): TransitionRecord {
    return {
      v: 1,
      kind: gap.last.kind,
      id: gap.last.id,
      incarnation: gap.last.incarnation,
      seq: gap.last.seq,
      at: gap.last.at,
      from: gap.first.from,
      to: gap.last.to,
      event: 'outbox.gap',
      context: { ...gap.last.context, gap: { dropped: gap.count, first_seq: gap.first.seq, last_seq: gap.last.seq } },
      ...(gap.last.error ? { error: gap.last.error } : {}),
    };
  }

  return {
    add(record, onStored) {
      const key = keyOf(record);
      let gap = gaps.get(key);
      if (gap) {
        gap.last = record;
        gap.count += 1;
      } else {
        gap = { first: record, last: record, count: 1, callbacks: [] };
        gaps.set(key, gap);
      }
      if (onStored) gap.callbacks.push(onStored);
    },
    takeBefore(next) {
      if (gaps.size === 0) return undefined;
      const key = keyOf(next);
      const gap = gaps.get(key);
      if (!gap) return undefined;
      gaps.delete(key);
      return toEntry(gap);
    },
    takeAny() {
      const first = gaps.entries().next();
      if (first.done) return undefined;
      gaps.delete(first.value[0]);
      return toEntry(first.value[1]);
    },
    size: () => gaps.size,
  };
}
