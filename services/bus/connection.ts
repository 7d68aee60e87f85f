import { EventEmitter } from 'node:events';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { componentLogger, type Logger } from '../log/logger.ts';
import { natsServerList } from './serverList.ts';
import './requestCancelPatch.ts';

export interface BusOptions {
  /** One server, a list (a cluster's nodes), or NATS_URL text: a comma-separated list. */
  servers: string | string[];
  user?: string;
  pass?: string;
  /** Shown in the server's connection list (`connz`). */
  name: string;
  logger?: Logger;
  /** Give up on the *first* connect after this long (default: keep trying forever). */
  firstConnectTimeoutMs?: number;
}

export type BusStatus = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface Bus {
  nc: NatsConnection;
  status(): BusStatus;
  /** Emits `status` with the new BusStatus on every change. */
  events: EventEmitter<{ status: [BusStatus] }>;
  close(): Promise<void>;
}

/**
 * One NATS connection that reconnects forever and reports its status. The nats.js
 * client does not buffer publishes while disconnected: callers that must not lose data
 * go through the outbox, which retries.
 */
export async function connectBus(options: BusOptions): Promise<Bus> {
  const log = options.logger ?? componentLogger('bus', { connection: options.name });
  const events = new EventEmitter<{ status: [BusStatus] }>();
  const nc = await connectWithRetry(options, log);
  let status: BusStatus = 'connected';
  const setStatus = (next: BusStatus): void => {
    if (next === status) return;
    status = next;
    events.emit('status', next);
  };
  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          log.warn({ server: s.server }, 'NATS disconnected; reconnecting');
          setStatus('reconnecting');
          break;
        case 'reconnect':
          log.info({ server: s.server }, 'NATS reconnected');
          setStatus('connected');
          break;
        case 'error':
          log.error({ err: s.error }, 'NATS error');
          break;
        default:
          break;
      }
    }
  })();
  void nc.closed().then((err) => {
    if (err) log.error({ err }, 'NATS connection closed with an error');
    setStatus('closed');
  });
  return {
    nc,
    status: () => status,
    events,
    close: async () => {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}

async function connectWithRetry(options: BusOptions, log: Logger): Promise<NatsConnection> {
  const started = Date.now();
  let attempt = 0;
  for (;;) {
    attempt += 1;
    try {
      return await connect({
        servers: natsServerList(options.servers),
        user: options.user,
        pass: options.pass,
        name: options.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 100,
        pingInterval: 10_000,
        timeout: 2_000,
        // Otherwise every request (each JetStream publish, each KV write) creates two Error
        // objects up front to capture the caller's stack: a quarter of the projector's CPU
        // (bench: record pipeline). Timeouts and request errors keep their types and messages.
        noAsyncTraces: true,
      });
    } catch (err) {
      const elapsed = Date.now() - started;
      if (options.firstConnectTimeoutMs !== undefined && elapsed >= options.firstConnectTimeoutMs) throw err;
      const wait = Math.min(2_000, 100 * 2 ** Math.min(attempt, 5));
      log.warn({ err: (err as Error).message, attempt, retryInMs: wait }, 'NATS not reachable yet; retrying');
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
