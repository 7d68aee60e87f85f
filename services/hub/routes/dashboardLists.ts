import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ErrorEvent } from '../../../machines/lib/errorEvent.ts';
import { FLOW_STATUSES, type FlowEntry } from '../../bus/schemas/projections.ts';
import { apiError } from '../apiError.ts';
import type { ProjectionViews } from '../projectionViews.ts';
import { meshNodeView, type DashboardFeeds } from '../ws/dashboardFeeds.ts';

/**
 * Read-only lists for the dashboard's panels, answered from the hub's in-memory mirrors
 * (no KV read per request). Each element has the shape of its WebSocket topic's value.
 * - `GET /api/flows?status=&limit=`: flows, latest first (an element = GET /api/flows/:nodeId's answer)
 * - `GET /api/sessions`: telemetry sessions (publisher link, setup, latest sample, latest gap)
 * - `GET /api/mesh-nodes?link=`: the nodes each ESP32 link's radio knows, with key status
 * - `GET /api/actor-errors`: every actor whose latest state came with an error: the error's
 *   code, message, severity and troubleshooting steps (GET /api/actors carries code and message only)
 */
const flowsQuery = z.object({
  status: z.enum(FLOW_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(200),
});
const meshQuery = z.object({ link: z.string().min(1).max(256).optional() });

export function flowView(flow: FlowEntry) {
  return {
    node_id: flow.node_id,
    command_id: flow.command_id,
    status: flow.status,
    device_id: flow.device_id,
    ...(flow.error ? { error: { code: flow.error.code, message: flow.error.message } } : {}),
    accepted_at: flow.accepted_at,
    updated_at: flow.updated_at,
  };
}

/** An ErrorEvent as the dashboard shows it: the steps apart, the other details as facts. */
export function errorView(error: ErrorEvent) {
  const { troubleshooting, ...details } = error.details ?? {};
  return {
    code: error.code,
    message: error.message,
    severity: error.severity,
    retryable: error.retryable,
    component: error.component,
    timestamp: error.timestamp,
    troubleshooting: Array.isArray(troubleshooting) ? troubleshooting.map(String) : [],
    details,
  };
}

function badQuery(message: string) {
  return apiError('INVALID_QUERY', message);
}

export function registerDashboardListRoutes(app: FastifyInstance, deps: { views: ProjectionViews; feeds: DashboardFeeds }): void {
  app.get('/api/flows', async (request, reply) => {
    const query = flowsQuery.safeParse(request.query);
    if (!query.success) return reply.status(400).send(badQuery(z.prettifyError(query.error)));
    return deps.views.flows
      .values()
      .filter((f) => !query.data.status || f.status === query.data.status)
      .sort((a, b) => b.updated_at.localeCompare(a.updated_at) || a.node_id.localeCompare(b.node_id))
      .slice(0, query.data.limit)
      .map(flowView);
  });

  app.get('/api/sessions', async () => deps.feeds.sessionSummaries());

  app.get('/api/mesh-nodes', async (request, reply) => {
    const query = meshQuery.safeParse(request.query);
    if (!query.success) return reply.status(400).send(badQuery(z.prettifyError(query.error)));
    return deps.feeds.meshNodes
      .values()
      .filter((n) => !query.data.link || n.link === query.data.link)
      .sort((a, b) => a.link.localeCompare(b.link) || a.num - b.num)
      .map(meshNodeView);
  });

  app.get('/api/actor-errors', async () =>
    deps.views.actors
      .values()
      .filter((a) => a.error)
      .sort((a, b) => a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id))
      .map((a) => ({ kind: a.kind, id: a.id, state: a.state, since: a.since, error: errorView(a.error!) })),
  );
}
