import { z } from 'zod';
import { DEFAULT_LINK_TIMING as D, type LinkTiming } from '../../machines/esp32Link.ts';

const ms = (fallback: number) => z.number().int().nonnegative().default(fallback);
const positive = (fallback: number) => z.number().int().positive().default(fallback);

/**
 * One ESP32 Meshtastic link in lifeline.config.json (`links: [...]`): a radio reached over
 * the Meshtastic TCP API. Durations are in milliseconds; every option but `name` has a
 * default (the esp32Link machine's), e.g.
 *
 *     { "links": [{ "name": "radio", "host": "127.0.0.1", "port": 4403 }] }
 */
export const linkSpecSchema = z
  .strictObject({
    /** The link's id: `conn.link.<name>.…`, `link.<name>.ping`, `mesh_nodes` keys `<name>.<node>`. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, ".", "-" and "_" (at most 64), starting with a letter or digit'),
    host: z.string().min(1).default('127.0.0.1'),
    /** The Meshtastic TCP API port. */
    port: z.number().int().min(1).max(65_535).default(4403),

    connectTimeoutMs: positive(D.connectTimeoutMs),
    /** want_config_id → config_complete_id, at most. */
    configTimeoutMs: positive(D.configTimeoutMs),
    /** ToRadio.heartbeat cadence; keep it well under silentTimeoutMs and the radio's 15 min idle timeout. */
    heartbeatIntervalMs: z.number().int().positive().max(600_000, 'at most 600000 (10 min): the radio drops a client silent for 15 min').default(D.heartbeatIntervalMs),
    /** No frame for this long → reconnect (also how a half-open socket is found). */
    silentTimeoutMs: positive(D.silentTimeoutMs),
    /** After closing a socket that was open, wait this long before connecting again. */
    cleanupDelayMs: ms(D.cleanupDelayMs),
    backoffInitialMs: positive(D.backoffInitialMs),
    backoffMaxMs: positive(D.backoffMaxMs),
    backoffFactor: z.number().min(1).max(10).default(D.backoffFactor),
    backoffJitter: z.number().min(0).max(1).default(D.backoffJitter),
    /** Consecutive attempts that do not reach `ready` before the link is `failed`. */
    maxAttempts: positive(D.maxAttempts),
    /** While `failed`, try again this often. */
    slowRetryIntervalMs: positive(D.slowRetryIntervalMs),
    /** From ready to the start of the key sync (raise it for slow radios). */
    keySyncDelayMs: ms(D.keySyncDelayMs),
    keySyncTimeoutMs: positive(D.keySyncTimeoutMs),
    keySyncRetryMs: positive(D.keySyncRetryMs),
    /** The key sync yields to the event loop after this many nodes … */
    keySyncChunkSize: positive(50),
    /** … and pauses this long (0: just yields), so the link answers while it syncs. */
    keySyncPauseMs: ms(0),
    /** TCP keepalive: first probe after this much idle time. */
    tcpKeepAliveMs: positive(10_000),
  })
  .refine((s) => s.heartbeatIntervalMs < s.silentTimeoutMs, {
    message: 'heartbeatIntervalMs must be shorter than silentTimeoutMs (the heartbeat answer is what keeps a quiet link alive)',
    path: ['heartbeatIntervalMs'],
  });
export type LinkSpec = z.infer<typeof linkSpecSchema>;
/** What a caller may pass: `name` and any options. */
export type LinkSpecInput = z.input<typeof linkSpecSchema>;

export function linkTimingOf(spec: LinkSpec): LinkTiming {
  return {
    connectTimeoutMs: spec.connectTimeoutMs,
    configTimeoutMs: spec.configTimeoutMs,
    heartbeatIntervalMs: spec.heartbeatIntervalMs,
    silentTimeoutMs: spec.silentTimeoutMs,
    cleanupDelayMs: spec.cleanupDelayMs,
    backoffInitialMs: spec.backoffInitialMs,
    backoffMaxMs: spec.backoffMaxMs,
    backoffFactor: spec.backoffFactor,
    backoffJitter: spec.backoffJitter,
    maxAttempts: spec.maxAttempts,
    slowRetryIntervalMs: spec.slowRetryIntervalMs,
    keySyncDelayMs: spec.keySyncDelayMs,
    keySyncTimeoutMs: spec.keySyncTimeoutMs,
    keySyncRetryMs: spec.keySyncRetryMs,
  };
}
