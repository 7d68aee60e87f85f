import { z } from 'zod';
import { errorEventSchema } from './errorEvent.ts';
import { KINDS } from '../subjects.ts';

export const FLOW_STATUSES = ['started', 'in progress', 'completed', 'failed'] as const;
export type FlowStatus = (typeof FLOW_STATUSES)[number];

/** Bucket `flows`, key = token(node_id): the latest command addressed to that node. */
export const flowEntrySchema = z.object({
  node_id: z.string(),
  command_id: z.string(),
  device_id: z.string(),
  status: z.enum(FLOW_STATUSES),
  accepted_at: z.string(),
  updated_at: z.string(),
  error: errorEventSchema.optional(),
});
export type FlowEntry = z.infer<typeof flowEntrySchema>;

/** Bucket `devices`, key = token(device_id): a connected device. */
export const deviceEntrySchema = z.object({
  device_id: z.string(),
  name: z.string(),
  nodes: z.number().int(),
  remote: z.string(),
  gateway: z.string(),
  incarnation: z.string(),
  connected_at: z.string(),
});
export type DeviceEntry = z.infer<typeof deviceEntrySchema>;

/** Bucket `device_state`, key = `token(device_id).<instance>`. */
export const deviceStateEntrySchema = z.object({
  device_id: z.string(),
  instance: z.number().int(),
  incarnation: z.string(),
  status: z.string(),
  current_config: z.record(z.string(), z.unknown()),
  updated_at: z.string(),
});
export type DeviceStateEntry = z.infer<typeof deviceStateEntrySchema>;

/** Bucket `actors`, key = `<kind>.token(id)`: the latest state of every actor. */
export const actorEntrySchema = z.object({
  kind: z.enum(KINDS),
  id: z.string(),
  state: z.string(),
  since: z.string(),
  seq: z.number().int(),
  incarnation: z.string(),
  error: errorEventSchema.optional(),
});
export type ActorEntry = z.infer<typeof actorEntrySchema>;

/** One projected change of a broadcast. `value` null means the key was deleted. */
export const broadcastChangeSchema = z.object({
  bucket: z.string(),
  key: z.string(),
  value: z.unknown().nullable(),
});
export type BroadcastChange = z.infer<typeof broadcastChangeSchema>;

/**
 * Projector → hub broadcast on `broadcast.<topic>`: the changes of one projector batch to
 * that topic's buckets, in the order they were projected (a large batch is split over
 * several messages, in order).
 */
export const broadcastSchema = z.object({
  topic: z.enum(['flow', 'device', 'device_state', 'actor', 'rpc']),
  changes: z.array(broadcastChangeSchema).min(1),
});
export type Broadcast = z.infer<typeof broadcastSchema>;
