import { childContextSchema, type ChildEntry } from '../../bus/schemas/children.ts';
import type { TransitionRecord } from '../../bus/schemas/transitionRecord.ts';
import { BUCKETS } from '../../bus/subjects.ts';
import { encodeToken } from '../../bus/tokens.ts';
import type { Effect } from '../effects.ts';

export function childKey(name: string): string {
  return encodeToken(name);
}

/**
 * A child's transition record → its `children` entry (a versioned put: an older record
 * never overwrites a newer one; a new incarnation — the supervisor restarted — replaces
 * the previous one). Children are declared, so their entry stays when they stop.
 */
export function projectChildRecord(record: TransitionRecord): { ok: true; effects: Effect[] } | { ok: false; error: string } {
  const parsed = childContextSchema.safeParse(record.context);
  if (!parsed.success) return { ok: false, error: parsed.error.message };
  const ctx = parsed.data;
  const top = record.to.split(/[.,]/)[0] ?? '';
  const value: ChildEntry = {
    ...ctx,
    incarnation: record.incarnation,
    seq: record.seq,
    state: record.to,
    ready: top === 'ready',
    restarting: top === 'restarting' || (top === 'starting' && ctx.restart_attempts > 0),
    updated_at: record.at,
  };
  const version = { incarnation: record.incarnation, seq: record.seq };
  return { ok: true, effects: [{ op: 'put', bucket: BUCKETS.children, key: childKey(ctx.name), value, version }] };
}
