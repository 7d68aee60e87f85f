import { z } from 'zod';
import { formatIssues } from '../bus/schemas/parse.ts';

/** Device → gateway messages of the wire protocol (DESIGN.md). */
export const helloSchema = z.object({
  type: z.literal('hello'),
  device: z.string().min(1).max(128),
  nodes: z.number().int().min(1).max(1024).default(1),
});
const ackSchema = z.object({ type: z.literal('ack'), id: z.string().min(1) });
const resultSchema = z.object({ type: z.literal('result'), id: z.string().min(1), ok: z.boolean(), error: z.string().optional() });
const statusSchema = z.object({
  type: z.literal('status'),
  instance: z.number().int().min(1),
  status: z.string(),
  config: z.record(z.string(), z.unknown()).default({}),
});
const pongSchema = z.object({ type: z.literal('pong') });

export const deviceMessageSchema = z.discriminatedUnion('type', [helloSchema, ackSchema, resultSchema, statusSchema, pongSchema]);
export type DeviceMessage = z.infer<typeof deviceMessageSchema>;
export type Hello = z.infer<typeof helloSchema>;

export type ParsedLine =
  | { ok: true; message: DeviceMessage }
  | { ok: false; code: 'INVALID_JSON' | 'UNKNOWN_MESSAGE'; message: string };

const KNOWN = new Set(['hello', 'ack', 'result', 'status', 'pong']);

export function parseDeviceLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, code: 'INVALID_JSON', message: `not valid JSON: ${excerpt(line)}` };
  }
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !KNOWN.has(type)) {
    return { ok: false, code: 'UNKNOWN_MESSAGE', message: `unknown message type ${JSON.stringify(type ?? null)}: ${excerpt(line)}` };
  }
  const parsed = deviceMessageSchema.safeParse(value);
  if (!parsed.success) {
    return { ok: false, code: 'UNKNOWN_MESSAGE', message: `malformed '${type}' message: ${formatIssues(parsed.error)}` };
  }
  return { ok: true, message: parsed.data };
}

function excerpt(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
}
