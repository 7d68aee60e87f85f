import { z } from 'zod';
import type { NatsEndpoint } from '../../cli/natsEndpoint.ts';

/** What the projector's thread is started with (`workerData`). */
export interface ProjectorThreadData {
  endpoint: NatsEndpoint;
  leaseTtlMs?: number;
}

const statsSchema = z.object({
  applied: z.number(),
  rejected: z.number(),
  batches: z.number(),
  writeFailures: z.number(),
  lastAppliedAt: z.string().optional(),
});

/** Projector thread → the thread that started it. */
export const fromProjectorThreadSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), holder: z.string() }),
  z.object({ type: z.literal('status'), role: z.enum(['active', 'standby']), stats: statsSchema }),
  z.object({ type: z.literal('stopped') }),
  z.object({ type: z.literal('failed'), message: z.string() }),
]);
export type FromProjectorThread = z.infer<typeof fromProjectorThreadSchema>;

/** The thread that started it → projector thread. */
export const toProjectorThreadSchema = z.discriminatedUnion('type', [z.object({ type: z.literal('stop') })]);
export type ToProjectorThread = z.infer<typeof toProjectorThreadSchema>;
