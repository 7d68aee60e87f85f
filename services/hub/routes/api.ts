import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { encodeToken } from '../../bus/tokens.ts';
import { actorKey } from '../../projector/reducers/actorRecord.ts';
import { apiError } from '../apiError.ts';
import type { CommandIntake } from '../commandIntake.ts';
import type { ProjectionViews } from '../projectionViews.ts';
import { flowView } from './dashboardLists.ts';

const deviceParams = z.object({ deviceId: z.string().min(1).max(512) });
const nodeParams = z.object({ nodeId: z.string().min(1).max(512) });

/** A device's current state comes from its actor entry (of the same connection). */
function stateOf(views: ProjectionViews, deviceId: string, incarnation: string): string | undefined {
  const actor = views.actors.get(actorKey('device', deviceId));
  return actor && actor.incarnation === incarnation ? actor.state : undefined;
}

/** The REST routes of DESIGN.md. */
export function registerApiRoutes(app: FastifyInstance, deps: { intake: CommandIntake; views: ProjectionViews }): void {
  app.post('/api/devices/:deviceId/commands', async (request, reply) => {
    const params = deviceParams.safeParse(request.params);
    if (!params.success) return reply.status(400).send(apiError('INVALID_DEVICE_ID', 'deviceId is required'));
    const answer = await deps.intake.submit(params.data.deviceId, request.body);
    return reply.status(answer.status).send(answer.body);
  });

  app.get('/api/flows/:nodeId', async (request, reply) => {
    const params = nodeParams.safeParse(request.params);
    if (!params.success) return reply.status(400).send(apiError('INVALID_NODE_ID', 'nodeId is required'));
    const flow = deps.views.flows.get(encodeToken(params.data.nodeId));
    if (!flow) return reply.status(404).send(apiError('FLOW_NOT_FOUND', `no flow for node ${params.data.nodeId}`));
    // the contract's fields: a flow's list entry (dashboardLists.ts) without accepted_at
    const { accepted_at: _acceptedAt, ...view } = flowView(flow);
    return view;
  });

  app.get('/api/devices', async () =>
    deps.views.devices
      .values()
      .sort((a, b) => a.device_id.localeCompare(b.device_id))
      .map((d) => ({
        device_id: d.device_id,
        name: d.name,
        nodes: d.nodes,
        remote: d.remote,
        gateway: d.gateway,
        state: stateOf(deps.views, d.device_id, d.incarnation),
        connected_at: d.connected_at,
      })),
  );

  app.get('/api/actors', async () =>
    deps.views.actors
      .values()
      .sort((a, b) => a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id))
      .map((a) => ({
        kind: a.kind,
        id: a.id,
        state: a.state,
        since: a.since,
        seq: a.seq,
        ...(a.error ? { error: { code: a.error.code, message: a.error.message } } : {}),
      })),
  );
}
