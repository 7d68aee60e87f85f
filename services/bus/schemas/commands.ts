import { z } from 'zod';
import { errorEventSchema } from './errorEvent.ts';

/** Body of `POST /api/devices/:deviceId/commands` and of a `cmd.device.<token>` request. */
export const commandRequestSchema = z.strictObject({
  node_id: z.string().min(1).max(256),
  command: z.string().min(1).max(256),
  params: z.record(z.string(), z.unknown()).optional(),
  instance: z.number().int().min(1).optional(),
});
export type CommandRequest = z.infer<typeof commandRequestSchema>;

/** A command the intake accepted; stored in stream COMMANDS before the 202 is sent. */
export const acceptedCommandSchema = z.object({
  command_id: z.string().min(1),
  device_id: z.string().min(1),
  node_id: z.string().min(1),
  command: z.string().min(1),
  params: z.record(z.string(), z.unknown()),
  instance: z.number().int().min(1).optional(),
  accepted_at: z.string(),
});
export type AcceptedCommand = z.infer<typeof acceptedCommandSchema>;

/** Published by a gateway that cannot deliver an accepted command (device not connected). */
export const rejectedCommandSchema = z.object({
  command_id: z.string().min(1),
  device_id: z.string().min(1),
  node_id: z.string().min(1),
  accepted_at: z.string(),
  error: errorEventSchema,
});
export type RejectedCommand = z.infer<typeof rejectedCommandSchema>;

export const commandAcceptedReplySchema = z.object({
  command_id: z.string(),
  node_id: z.string(),
  status: z.literal('started'),
});

/** The reply of a NATS command request: the HTTP body plus its status code. */
export const commandReplySchema = z.union([
  z.object({ status: z.literal(202), body: commandAcceptedReplySchema }),
  z.object({ status: z.number().int(), body: z.object({ error: z.object({ code: z.string(), message: z.string() }) }) }),
]);
