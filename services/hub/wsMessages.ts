import { z } from 'zod';

export const WS_TOPICS = ['flow', 'device', 'device_state', 'actor'] as const;
export type WsTopic = (typeof WS_TOPICS)[number];

/** Dashboard → hub frames. */
export const wsClientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('subscribe'), topics: z.array(z.enum(WS_TOPICS)).min(1) }),
  z.object({ type: z.literal('ping') }),
]);
export type WsClientMessage = z.infer<typeof wsClientMessageSchema>;
