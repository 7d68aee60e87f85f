import type { FastifyInstance } from 'fastify';
import { Gauge, register } from 'prom-client';
import type { Bus } from '../../bus/connection.ts';
import type { ProjectorLiveness } from '../projectorLiveness.ts';

/** `/healthz` (200 only when NATS is connected and the projector is live) and `/metrics`. */
export function registerOpsRoutes(app: FastifyInstance, deps: { bus: Bus; liveness: ProjectorLiveness; wsClients: () => number }): void {
  if (!register.getSingleMetric('lifeline_ws_clients')) {
    new Gauge({ name: 'lifeline_ws_clients', help: 'Dashboards connected to /ws', collect() { this.set(deps.wsClients()); } });
  }

  app.get('/healthz', async (_request, reply) => {
    const reasons: string[] = [];
    const nats = deps.bus.status();
    if (nats !== 'connected') reasons.push(`NATS ${nats}`);
    const projector = deps.liveness.problem();
    if (projector) reasons.push(projector);
    if (reasons.length) return reply.status(503).send({ status: 'unavailable', reasons });
    return { status: 'ok', nats, projector: 'live' };
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.header('content-type', register.contentType).send(await register.metrics());
  });
}
