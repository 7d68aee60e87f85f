import { z } from 'zod';
import { KINDS } from '../subjects.ts';
import { errorEventSchema } from './errorEvent.ts';

/**
 * Transition record, version 1 (DESIGN.md). `from` is null only on an actor's first
 * record (its start); `from`/`to` are dotted state paths, parallel regions joined by ','.
 * A gap record (`event: "outbox.gap"`) reports records an overflowing outbox dropped.
 */
export const transitionRecordSchema = z.object({
  v: z.literal(1),
  kind: z.enum(KINDS),
  id: z.string().min(1),
  incarnation: z.string().min(1),
  seq: z.number().int().nonnegative(),
  at: z.string(),
  from: z.string().nullable(),
  to: z.string(),
  event: z.string(),
  context: z.record(z.string(), z.unknown()),
  error: errorEventSchema.optional(),
});

export type TransitionRecord = z.infer<typeof transitionRecordSchema>;

/** `kind:id:incarnation:seq`, the JetStream `Nats-Msg-Id` that deduplicates retries. */
export function recordMessageId(record: Pick<TransitionRecord, 'kind' | 'id' | 'incarnation' | 'seq'>): string {
  return `${record.kind}:${record.id}:${record.incarnation}:${record.seq}`;
}

/** The JSON text of records whose host built it already (host.ts), so the outbox does not print them again. */
const printed = new WeakMap<TransitionRecord, string>();

/**
 * A record's JSON text, `JSON.stringify(record)` exactly, built around its context's text
 * (which the host prints anyway, to tell whether anything visible changed).
 */
export function printRecord(record: TransitionRecord, contextJson: string): string {
  const json =
    `{"v":1,"kind":${JSON.stringify(record.kind)},"id":${JSON.stringify(record.id)},"incarnation":${JSON.stringify(record.incarnation)},` +
    `"seq":${record.seq},"at":${JSON.stringify(record.at)},"from":${JSON.stringify(record.from)},"to":${JSON.stringify(record.to)},` +
    `"event":${JSON.stringify(record.event)},"context":${contextJson}${record.error ? `,"error":${JSON.stringify(record.error)}` : ''}}`;
  printed.set(record, json);
  return json;
}

/** The record's JSON text: as its host printed it, or printed now. */
export function recordJson(record: TransitionRecord): string {
  return printed.get(record) ?? JSON.stringify(record);
}
