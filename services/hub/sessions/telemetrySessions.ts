import type { FastifyInstance } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../log/logger.ts';
import { registerTelemetryDashboard } from './dashboardRoute.ts';
import { createSessionFeed, type SessionClients, type SessionFeed } from './sessionFeed.ts';

/** Telemetry sessions on the hub (issue 4): `join_session` on `/ws` and the page `GET /dashboard/telemetry`. */
export function registerTelemetrySessions(app: FastifyInstance, nc: NatsConnection, clients: SessionClients, log: Logger): SessionFeed {
  registerTelemetryDashboard(app);
  return createSessionFeed(nc, clients, log.child({ feature: 'sessions' }));
}
