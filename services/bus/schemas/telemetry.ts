import { z } from 'zod';
import type { TelemetryMessageKind } from '../subjects.ts';
import { encodeToken } from '../tokens.ts';
import { formatIssues } from './parse.ts';

/**
 * The telemetry wire (issue 4): what a publisher sends on `telemetry.<token>.setup|data|gap`
 * (stream TELEMETRY), validated by the projector. `session_id` is required everywhere;
 * `incarnation`/`seq` identify the publisher run and the sample but are optional for
 * third-party publishers.
 */
const sessionId = z.string().min(1).max(256);
const common = {
  v: z.literal(1).optional(),
  session_id: sessionId,
  incarnation: z.string().max(64).optional(),
  at: z.string().max(64).optional(),
};

export const telemetrySetupSchema = z.object({ ...common, setup: z.record(z.string(), z.unknown()) });
export type TelemetrySetupMessage = z.infer<typeof telemetrySetupSchema>;

/** A sample: `lap`, `fuel` and `position` are expected (missing → accepted with a warning); extra fields pass. */
export const telemetryDataSchema = z.looseObject({
  ...common,
  seq: z.number().int().nonnegative().optional(),
  lap: z.number().int().nonnegative().optional(),
  fuel: z.number().nonnegative().optional(),
  position: z.number().int().positive().optional(),
  speed: z.number().nonnegative().optional(),
  quality: z.object({ rtt_ms: z.number().nullable(), ping_loss: z.number().min(0).max(1) }).optional(),
});
export type TelemetryDataMessage = z.infer<typeof telemetryDataSchema>;
export const EXPECTED_TELEMETRY_FIELDS = ['lap', 'fuel', 'position'] as const;

/** The publisher dropped `dropped` samples (seq first_seq..last_seq) from its bounded buffer. */
export const telemetryGapSchema = z.object({
  ...common,
  dropped: z.number().int().positive(),
  first_seq: z.number().int().nonnegative(),
  last_seq: z.number().int().nonnegative(),
  dropped_total: z.number().int().nonnegative(),
});
export type TelemetryGapMessage = z.infer<typeof telemetryGapSchema>;

const SCHEMAS = { setup: telemetrySetupSchema, data: telemetryDataSchema, gap: telemetryGapSchema } as const;

export type TelemetryErrorCode = 'TELEMETRY_NOT_JSON' | 'TELEMETRY_NO_SESSION' | 'TELEMETRY_INVALID';

export type ValidatedTelemetry =
  | { ok: true; kind: 'setup'; value: TelemetrySetupMessage; missing: string[] }
  | { ok: true; kind: 'data'; value: TelemetryDataMessage; missing: string[] }
  | { ok: true; kind: 'gap'; value: TelemetryGapMessage; missing: string[] }
  | { ok: false; code: TelemetryErrorCode; message: string; sessionId?: string };

/**
 * One message of `telemetry.<token>.<kind>`: not JSON, no session id, a wrong type or a
 * session id the subject does not name → rejected with a code; a sample missing any of
 * lap/fuel/position → accepted, `missing` naming them.
 */
export function validateTelemetry(kind: TelemetryMessageKind, subjectToken: string, data: Uint8Array | string): ValidatedTelemetry {
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  } catch (err) {
    return { ok: false, code: 'TELEMETRY_NOT_JSON', message: `telemetry ${kind}: not JSON (${(err as Error).message})` };
  }
  const sid = (json as { session_id?: unknown } | null)?.session_id;
  if (typeof json !== 'object' || json === null || typeof sid !== 'string' || sid.length === 0) {
    return { ok: false, code: 'TELEMETRY_NO_SESSION', message: `telemetry ${kind}: no session_id` };
  }
  const parsed = SCHEMAS[kind].safeParse(json);
  if (!parsed.success) {
    return { ok: false, code: 'TELEMETRY_INVALID', message: `telemetry ${kind}: ${formatIssues(parsed.error)}`, sessionId: sid };
  }
  if (encodeToken(sid) !== subjectToken) {
    return { ok: false, code: 'TELEMETRY_INVALID', message: `telemetry ${kind}: session_id "${sid}" is not the session its subject names`, sessionId: sid };
  }
  const missing = kind === 'data' ? EXPECTED_TELEMETRY_FIELDS.filter((f) => (parsed.data as Record<string, unknown>)[f] === undefined) : [];
  return { ok: true, kind, value: parsed.data, missing } as ValidatedTelemetry;
}

/** Projector → hub on `broadcast.session.<token>`: one validated update of a session. */
export const sessionNoticeSchema = z.object({
  session_id: z.string(),
  type: z.enum(['setup', 'telemetry', 'gap', 'publisher']),
  value: z.record(z.string(), z.unknown()),
});
export type SessionNotice = z.infer<typeof sessionNoticeSchema>;
export type SessionPart = SessionNotice['type'];

/** Bucket `sessions`: key `<token(session)>.<part>`. */
export function sessionKey(sessionId: string, part: SessionPart): string {
  return `${encodeToken(sessionId)}.${part}`;
}
