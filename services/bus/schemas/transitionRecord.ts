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
