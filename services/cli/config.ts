import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_DEVICE_TIMING, type DeviceTiming } from '../../machines/deviceSocket.ts';
import { fieldPath, formatConfigIssues } from '../config/configIssues.ts';

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
  /** Device timings (ms); the defaults are the deviceSocket machine's. */
  deviceAckTimeoutMs: z.coerce.number().int().positive().default(DEFAULT_DEVICE_TIMING.ackTimeoutMs),
  deviceResultTimeoutMs: z.coerce.number().int().positive().default(DEFAULT_DEVICE_TIMING.resultTimeoutMs),
  deviceHeartbeatIntervalMs: z.coerce.number().int().positive().default(DEFAULT_DEVICE_TIMING.heartbeatIntervalMs),
  deviceSilentTimeoutMs: z.coerce.number().int().positive().default(DEFAULT_DEVICE_TIMING.silentTimeoutMs),
  deviceHelloTimeoutMs: z.coerce.number().int().positive().default(5_000),
});
export type RuntimeConfig = z.infer<typeof runtimeConfigSchema> & { dataDir: string };

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
}

type RuntimeField = keyof z.input<typeof runtimeConfigSchema>;

/**
 * Where each runtime option comes from: its env var and, for some, a flag (flags win).
 * docs/configuration.md lists every one of them; test/config checks it does.
 */
export const RUNTIME_OPTION_SOURCES: Record<RuntimeField, { env: string; flag?: string }> = {
  natsUrl: { env: 'NATS_URL', flag: '--nats-url' },
  natsPort: { env: 'LIFELINE_NATS_PORT' },
  natsWsPort: { env: 'LIFELINE_NATS_WS_PORT' },
  natsMonitorPort: { env: 'LIFELINE_NATS_MONITOR_PORT' },
  httpHost: { env: 'LIFELINE_HTTP_HOST', flag: '--http-host' },
  httpPort: { env: 'LIFELINE_HTTP_PORT', flag: '--http-port' },
  deviceHost: { env: 'LIFELINE_DEVICE_HOST', flag: '--device-host' },
  devicePort: { env: 'LIFELINE_DEVICE_PORT', flag: '--device-port' },
  dataDir: { env: 'LIFELINE_DATA_DIR', flag: '--data-dir' },
  configFile: { env: 'LIFELINE_CONFIG', flag: '--config' },
  gatewayName: { env: 'LIFELINE_GATEWAY_NAME', flag: '--gateway-name' },
  deviceAckTimeoutMs: { env: 'LIFELINE_DEVICE_ACK_TIMEOUT_MS' },
  deviceResultTimeoutMs: { env: 'LIFELINE_DEVICE_RESULT_TIMEOUT_MS' },
  deviceHeartbeatIntervalMs: { env: 'LIFELINE_DEVICE_HEARTBEAT_INTERVAL_MS' },
  deviceSilentTimeoutMs: { env: 'LIFELINE_DEVICE_SILENT_TIMEOUT_MS' },
  deviceHelloTimeoutMs: { env: 'LIFELINE_DEVICE_HELLO_TIMEOUT_MS' },
};

/**
 * Env first, then flags (flags win; keyed by field, e.g. `{ httpPort: '8080' }`). A wrong
 * value is an error naming where it came from: `LIFELINE_HTTP_PORT: expected a number ≤ 65535`.
 */
export function loadRuntimeConfig(flags: Partial<Record<RuntimeField, unknown>> = {}, env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ''));
  const fromEnv = Object.fromEntries(Object.entries(RUNTIME_OPTION_SOURCES).map(([field, { env: name }]) => [field, env[name]]));
  const fromFlags = defined(flags);
  const merged = { ...defined(fromEnv), ...fromFlags };
  const parsed = runtimeConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const label = (path: ReadonlyArray<PropertyKey>): string => {
      const field = String(path[0]) as RuntimeField;
      const source = RUNTIME_OPTION_SOURCES[field];
      if (!source) return fieldPath(path);
      return field in fromFlags && source.flag ? source.flag : source.env;
    };
    throw new ConfigError(`invalid configuration: ${formatConfigIssues(parsed.error, { label }).join('; ')}`);
  }
  return { ...parsed.data, dataDir: resolve(parsed.data.dataDir) };
}

/** The device timings of the configuration (each the machine's default unless set). */
export function deviceTimingOf(config: RuntimeConfig): Partial<DeviceTiming> {
  return {
    ackTimeoutMs: config.deviceAckTimeoutMs,
    resultTimeoutMs: config.deviceResultTimeoutMs,
    heartbeatIntervalMs: config.deviceHeartbeatIntervalMs,
    silentTimeoutMs: config.deviceSilentTimeoutMs,
  };
}
