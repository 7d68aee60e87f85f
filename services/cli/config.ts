import { resolve } from 'node:path';
import { z } from 'zod';
import type { DeviceTiming } from '../../machines/deviceSocket.ts';
import { formatIssues } from '../bus/schemas/parse.ts';

const port = z.coerce.number().int().min(0).max(65_535);

/** Ports, paths and names; every default of DESIGN.md, overridable by env and flags. */
export const runtimeConfigSchema = z.object({
  natsUrl: z.string().min(1).optional(),
  natsPort: port.default(4250),
  natsWsPort: port.default(4251),
  natsMonitorPort: port.default(8250),
  httpHost: z.string().default('127.0.0.1'),
  httpPort: port.default(7070),
  deviceHost: z.string().default('127.0.0.1'),
  devicePort: port.default(7071),
  dataDir: z.string().default('./.lifeline'),
  /** lifeline.config.json (children, links, …); unset: ./lifeline.config.json if it exists. */
  configFile: z.string().optional(),
  gatewayName: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only').default('gateway-1'),
  /** Device timings (ms); unset ones keep the machine's defaults (ack 5 s, result 60 s, ping 10 s, silent 30 s). */
  deviceAckTimeoutMs: z.coerce.number().int().positive().optional(),
  deviceResultTimeoutMs: z.coerce.number().int().positive().optional(),
  deviceHeartbeatIntervalMs: z.coerce.number().int().positive().optional(),
  deviceSilentTimeoutMs: z.coerce.number().int().positive().optional(),
  deviceHelloTimeoutMs: z.coerce.number().int().positive().default(5_000),
});
export type RuntimeConfig = z.infer<typeof runtimeConfigSchema> & { dataDir: string };

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
}

/** Env first, then flags (flags win). A wrong value is an error naming the field. */
export function loadRuntimeConfig(flags: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const fromEnv = {
    natsUrl: env.NATS_URL || undefined,
    httpPort: env.LIFELINE_HTTP_PORT,
    natsPort: env.LIFELINE_NATS_PORT,
    natsWsPort: env.LIFELINE_NATS_WS_PORT,
    natsMonitorPort: env.LIFELINE_NATS_MONITOR_PORT,
    devicePort: env.LIFELINE_DEVICE_PORT,
    dataDir: env.LIFELINE_DATA_DIR || undefined,
    configFile: env.LIFELINE_CONFIG || undefined,
    gatewayName: env.LIFELINE_GATEWAY_NAME || undefined,
    deviceAckTimeoutMs: env.LIFELINE_DEVICE_ACK_TIMEOUT_MS,
    deviceResultTimeoutMs: env.LIFELINE_DEVICE_RESULT_TIMEOUT_MS,
    deviceHeartbeatIntervalMs: env.LIFELINE_DEVICE_HEARTBEAT_INTERVAL_MS,
    deviceSilentTimeoutMs: env.LIFELINE_DEVICE_SILENT_TIMEOUT_MS,
    deviceHelloTimeoutMs: env.LIFELINE_DEVICE_HELLO_TIMEOUT_MS,
  };
  const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ''));
  const merged = { ...defined(fromEnv), ...defined(flags) };
  const parsed = runtimeConfigSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${formatIssues(parsed.error)}`);
  return { ...parsed.data, dataDir: resolve(parsed.data.dataDir) };
}

/** The device timings the configuration sets (the rest keep the machine's defaults). */
export function deviceTimingOf(config: RuntimeConfig): Partial<DeviceTiming> {
  const timing: Partial<DeviceTiming> = {};
  if (config.deviceAckTimeoutMs) timing.ackTimeoutMs = config.deviceAckTimeoutMs;
  if (config.deviceResultTimeoutMs) timing.resultTimeoutMs = config.deviceResultTimeoutMs;
  if (config.deviceHeartbeatIntervalMs) timing.heartbeatIntervalMs = config.deviceHeartbeatIntervalMs;
  if (config.deviceSilentTimeoutMs) timing.silentTimeoutMs = config.deviceSilentTimeoutMs;
  return timing;
}
