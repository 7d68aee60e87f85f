import type { ActorEntry, FlowEntry } from '../bus/schemas/projections.ts';

/** Where a record came from in its actor's life: newer versions win. */
export interface Version {
  incarnation: string;
  seq: number;
}

/**
 * What a reducer asks the projection store to do. Reducers are pure: the same record
 * always gives the same effects, and applying them twice changes nothing.
 */
export type Effect =
  /**
   * Put unless the stored value carries a newer version, or `fence` (an `endIncarnation`
   * key) lists the version's incarnation as ended: an ended actor never comes back.
   */
  | { op: 'put'; bucket: string; key: string; value: Record<string, unknown>; version: Version; fence?: { bucket: string; key: string } }
  /**
   * Delete unless the stored value belongs to a newer incarnation, or `fence` lists the
   * version's incarnation as ended (its end was recorded already: a late record of it
   * touches nothing); with `onlyIncarnation`, only if the stored value belongs to exactly
   * that incarnation (no clock comparison).
   */
  | { op: 'delete'; bucket: string; key: string; version: Version; onlyIncarnation?: string; fence?: { bucket: string; key: string } }
  /** Adds `incarnation` to the ended incarnations of `id` (a set: order and repeats never matter). */
  | { op: 'endIncarnation'; bucket: string; key: string; id: string; incarnation: string }
  /** The `actors` entry: a put that keeps `since` while the state stays the same. */
  | { op: 'putActor'; bucket: string; key: string; value: ActorEntry; version: Version }
  /** Join a flow entry into the stored one (see mergeFlow): order never matters. */
  | { op: 'mergeFlow'; bucket: string; key: string; value: FlowEntry };

export function compareVersions(a: Version, b: Version): number {
  if (a.incarnation !== b.incarnation) return a.incarnation < b.incarnation ? -1 : 1;
  return a.seq - b.seq;
}

/** The version a stored projection value carries, if any. */
export function versionOf(value: unknown): Version | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { incarnation?: unknown; seq?: unknown };
  if (typeof v.incarnation !== 'string') return undefined;
  // entries without a seq (devices, device_state) hold only what is fixed for a while: the
  // incarnation orders them, and any record of that incarnation may write them again
  return { incarnation: v.incarnation, seq: typeof v.seq === 'number' ? v.seq : 0 };
}
