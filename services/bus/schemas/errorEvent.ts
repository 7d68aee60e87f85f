import { z } from 'zod';
import type { ErrorEvent } from '../../../machines/lib/errorEvent.ts';

export const errorEventSchema = z.object({
  code: z.string().min(1),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
  component: z.string(),
  severity: z.enum(['warning', 'error', 'critical']),
  timestamp: z.string(),
  retryable: z.boolean(),
}) satisfies z.ZodType<ErrorEvent>;
