import { jetstream } from '@nats-io/jetstream';
import type { ServiceUser } from '../../../infra/nats/index.ts';
import type { Bus } from '../../bus/connection.ts';
import { createOutbox, type Outbox } from '../../bus/outbox.ts';
import { registerOutboxMetrics } from '../../bus/outboxMetrics.ts';
import { componentLogger } from '../../log/logger.ts';
import { connectAs, type NatsEndpoint } from '../natsEndpoint.ts';

const FLUSH_ON_CLOSE_MS = 5_000;

/** A service's NATS connection and the outbox its actors record through. */
export interface RecordingConnection {
  bus: Bus;
  outbox: Outbox;
  /** Waits (bounded) for the outbox to drain, then closes it and the connection. */
  close(): Promise<void>;
}

/**
 * Connects as `user` and opens an outbox on that connection that pauses while NATS is
 * away and resumes as soon as it is back; its counters appear in /metrics under `service`.
 */
export async function openRecordingConnection(
  endpoint: NatsEndpoint,
  user: ServiceUser,
  service: string,
  options: { connectionName?: string; outboxCapacity?: number } = {},
): Promise<RecordingConnection> {
  const bus = await connectAs(endpoint, user, options.connectionName ?? `lifeline-${service}`);
  const outbox = createOutbox({
    js: jetstream(bus.nc),
    isConnected: () => bus.status() === 'connected',
    logger: componentLogger('outbox', { service }),
    ...(options.outboxCapacity ? { capacity: options.outboxCapacity } : {}),
  });
  bus.events.on('status', (s) => s === 'connected' && outbox.kick());
  registerOutboxMetrics(service, outbox);
  return {
    bus,
    outbox,
    close: async () => {
      await Promise.race([outbox.flush(), new Promise((r) => setTimeout(r, FLUSH_ON_CLOSE_MS))]);
      await outbox.close();
      await bus.close();
    },
  };
}
