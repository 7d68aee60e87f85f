import { z } from 'zod';

/** The wire protocol allows at most 64 KiB per line (newline excluded). */
export const MAX_LINE_BYTES = 64 * 1024;

// ---- gateway → device -------------------------------------------------------------------

export const welcomeMessageSchema = z.object({
  type: z.literal('welcome'),
  id: z.string().min(1),
});
export type WelcomeMessage = z.infer<typeof welcomeMessageSchema>;

export const commandMessageSchema = z.object({
  type: z.literal('command'),
  id: z.string().min(1),
  node_id: z.string(),
  instance: z.number().int().min(1),
  command: z.string(),
  params: z.record(z.string(), z.unknown()).default({}),
});
export type CommandMessage = z.infer<typeof commandMessageSchema>;

export const pingMessageSchema = z.object({ type: z.literal('ping') });
export type PingMessage = z.infer<typeof pingMessageSchema>;

export const gatewayMessageSchema = z.discriminatedUnion('type', [
  welcomeMessageSchema,
  commandMessageSchema,
  pingMessageSchema,
]);
export type GatewayMessage = z.infer<typeof gatewayMessageSchema>;

// ---- device → gateway -------------------------------------------------------------------

export const helloMessageSchema = z.object({
  type: z.literal('hello'),
  device: z.string().min(1),
  nodes: z.number().int().min(1),
});
export type HelloMessage = z.infer<typeof helloMessageSchema>;

export const ackMessageSchema = z.object({ type: z.literal('ack'), id: z.string().min(1) });
export type AckMessage = z.infer<typeof ackMessageSchema>;

export const resultMessageSchema = z.union([
  z.object({ type: z.literal('result'), id: z.string().min(1), ok: z.literal(true) }),
  z.object({ type: z.literal('result'), id: z.string().min(1), ok: z.literal(false), error: z.string() }),
]);
export type ResultMessage = z.infer<typeof resultMessageSchema>;

export const statusMessageSchema = z.object({
  type: z.literal('status'),
  instance: z.number().int().min(1),
  status: z.string(),
  config: z.record(z.string(), z.unknown()),
});
export type StatusMessage = z.infer<typeof statusMessageSchema>;

export const pongMessageSchema = z.object({ type: z.literal('pong') });
export type PongMessage = z.infer<typeof pongMessageSchema>;

export type DeviceMessage = HelloMessage | AckMessage | ResultMessage | StatusMessage | PongMessage;

/** One protocol line: compact JSON terminated by `\n`. */
export function encodeLine(message: DeviceMessage): string {
  return `${JSON.stringify(message)}\n`;
}

export type DecodedGatewayLine =
  | { ok: true; message: GatewayMessage }
  | { ok: false; reason: 'invalid-json' | 'invalid-message'; detail: string };

/** Parses one line received from the gateway; never throws. */
export function decodeGatewayLine(line: string): DecodedGatewayLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, reason: 'invalid-json', detail: (err as Error).message };
  }
  const parsed = gatewayMessageSchema.safeParse(value);
  if (!parsed.success) {
    return { ok: false, reason: 'invalid-message', detail: z.prettifyError(parsed.error) };
  }
  return { ok: true, message: parsed.data };
}
