import { createErrorEvent, type ErrorEvent } from '../../../machines/lib/errorEvent.ts';
import { sessionKey, validateTelemetry, type SessionNotice, type SessionPart } from '../../bus/schemas/telemetry.ts';
import { BUCKETS, subjects, TELEMETRY_MESSAGES, type TelemetryMessageKind } from '../../bus/subjects.ts';
import type { Effect } from '../effects.ts';

/** A message the projector publishes once the batch it belongs to is written. */
export interface Notice {
  subject: string;
  payload: SessionNotice | ErrorEvent;
}

export type ProjectedTelemetry =
  | { ok: true; effects: Effect[]; notices: Notice[]; warning?: string }
  | { ok: false; error: string; notices: Notice[] };

/**
 * The TELEMETRY stream's order is the version of these entries (one publisher per
 * session, redelivery replays in order), so values carry no `incarnation`+`seq` pair
 * and every put lands; the publisher's run is kept as `publisher_incarnation`.
 */
const UNVERSIONED = { incarnation: '', seq: 0 };

const PART_OF: Record<TelemetryMessageKind, SessionPart> = { setup: 'setup', data: 'telemetry', gap: 'gap' };

/**
 * `telemetry.<token>.<setup|data|gap>` → the session's entry in `sessions` and a
 * notice for the hub. A rejected message changes nothing and yields an ErrorEvent on
 * `broadcast.error.telemetry`; a sample missing lap/fuel/position is accepted with a
 * warning naming them (also kept in the entry as `missing`).
 */
export function projectTelemetryMessage(subject: string, data: Uint8Array, at: number): ProjectedTelemetry {
  const [, token = '', what = ''] = subject.split('.');
  if (!(TELEMETRY_MESSAGES as readonly string[]).includes(what)) return reject('TELEMETRY_INVALID', `unknown telemetry subject ${subject}`, subject, at);
  const kind = what as TelemetryMessageKind;
  const validated = validateTelemetry(kind, token, data);
  if (!validated.ok) return reject(validated.code, validated.message, subject, at, validated.sessionId);
  const { incarnation, ...rest } = validated.value;
  const part = PART_OF[kind];
  const value: Record<string, unknown> = { ...rest, publisher_incarnation: incarnation ?? null };
  if (kind === 'data') value.missing = validated.missing;
  const sessionId = validated.value.session_id;
  const notice: Notice = { subject: subjects.sessionNotice(sessionId), payload: { session_id: sessionId, type: part, value } };
  return {
    ok: true,
    effects: [{ op: 'put', bucket: BUCKETS.sessions, key: sessionKey(sessionId, part), value, version: UNVERSIONED }],
    notices: [notice],
    ...(validated.missing.length > 0 ? { warning: `telemetry accepted without ${validated.missing.join(', ')}` } : {}),
  };
}

function reject(code: string, message: string, subject: string, at: number, sessionId?: string): ProjectedTelemetry {
  const event = createErrorEvent({
    code,
    message,
    component: 'projector',
    severity: 'error',
    retryable: false,
    at,
    details: { subject, ...(sessionId ? { session_id: sessionId } : {}) },
  });
  return { ok: false, error: `${code}: ${message}`, notices: [{ subject: subjects.telemetryError, payload: event }] };
}
