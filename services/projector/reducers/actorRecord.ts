import type { ActorEntry } from '../../bus/schemas/projections.ts';
import type { TransitionRecord } from '../../bus/schemas/transitionRecord.ts';
import { BUCKETS } from '../../bus/subjects.ts';
import { encodeToken } from '../../bus/tokens.ts';
import type { Effect } from '../effects.ts';

export function actorKey(kind: string, id: string): string {
  return `${kind}.${encodeToken(id)}`;
}

/** Every record of every kind: the `actors` projection (latest state of each actor). */
export function projectActorRecord(record: TransitionRecord): Effect {
  const value: ActorEntry = {
    kind: record.kind,
    id: record.id,
    state: record.to,
    since: record.at,
    seq: record.seq,
    incarnation: record.incarnation,
  };
  if (record.error) value.error = record.error;
  return { op: 'putActor', bucket: BUCKETS.actors, key: actorKey(record.kind, record.id), value, version: record };
}

/**
 * A record that leaves the actor in the state it was in (a context change) keeps the
 * time it entered that state and the error that brought it there.
 */
export function carryActorEntry(previous: ActorEntry | undefined, next: ActorEntry): ActorEntry {
  if (!previous || previous.incarnation !== next.incarnation || previous.state !== next.state) return next;
  const carried: ActorEntry = { ...next, since: previous.since };
  if (!next.error && previous.error) carried.error = previous.error;
  return carried;
}
