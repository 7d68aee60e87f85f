import { z } from 'zod';
import { sessionKey } from '../../bus/schemas/telemetry.ts';
import type { TransitionRecord } from '../../bus/schemas/transitionRecord.ts';
import { BUCKETS, subjects } from '../../bus/subjects.ts';
import type { Effect } from '../effects.ts';
import type { Notice } from './telemetryMessage.ts';

const publisherContextSchema = z.object({
  session_id: z.string().min(1),
  attempt: z.number().int().nonnegative(),
  retry_in_ms: z.number().nonnegative(),
  connections: z.number().int().nonnegative(),
});

/**
 * A telemetry publisher's record → `sessions` key `<token>.publisher`: the publisher's
 * link state (versioned like every record projection), and a notice for the hub.
 */
export function projectTelemetryRecord(record: TransitionRecord): { ok: true; effects: Effect[]; notices: Notice[] } | { ok: false; error: string } {
  const parsed = publisherContextSchema.safeParse(record.context);
  if (!parsed.success) return { ok: false, error: parsed.error.message };
  const c = parsed.data;
  const value: Record<string, unknown> = {
    session_id: c.session_id,
    state: record.to,
    attempt: c.attempt,
    retry_in_ms: c.retry_in_ms,
    connections: c.connections,
    incarnation: record.incarnation,
    seq: record.seq,
    updated_at: record.at,
    ...(record.error ? { error: record.error } : {}),
  };
  return {
    ok: true,
    effects: [{ op: 'put', bucket: BUCKETS.sessions, key: sessionKey(c.session_id, 'publisher'), value, version: record }],
    notices: [{ subject: subjects.sessionNotice(c.session_id), payload: { session_id: c.session_id, type: 'publisher', value } }],
  };
}
