import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Bus } from '../bus/connection.ts';
import { componentLogger, type Logger } from '../log/logger.ts';
import { apiError } from './apiError.ts';
import { createCommandIntake } from './commandIntake.ts';
import { answerCommandRequests } from './commandResponder.ts';
import { openProjectionViews } from './projectionViews.ts';
import { watchProjectorLiveness } from './projectorLiveness.ts';
import { forwardProjections } from './wsBroadcaster.ts';
import { WS_TOPICS, HUB_TOPICS } from './wsMessages.ts';
import { registerTelemetrySessions } from './sessions/telemetrySessions.ts';
import { createClientHub, type ClientHub, type ClientHubOptions } from './ws/clientHub.ts';
import { createRpcFeed } from './ws/rpcFeed.ts';
import { startDashboardFeeds } from './ws/dashboardFeeds.ts';
import { hubMetricsJson, newHubCounters, registerHubMetrics } from './hubMetrics.ts';
import type { RecordSink } from '../runtime/host.ts';
import { registerApiRoutes } from './routes/api.ts';
import { registerDashboardListRoutes } from './routes/dashboardLists.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { childRoutes } from './routes/children.ts';
import { registerDashboardRoutes } from './routes/dashboard.ts';
import { registerMachineRoutes } from './routes/machines.ts';

/** Fastify's own error codes, as the API's. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_BAD_URL: 'INVALID_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
};

type HttpError = { statusCode?: number; code?: string; message: string };

/** Every error answer, including the router's own (bad URL, over-long parameter), as `{"error":{"code","message"}}`. */
function sendApiError(err: HttpError, request: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  if (status === 500) request.log.error({ err }, 'request failed');
  const code = status === 500 ? 'INTERNAL' : (FASTIFY_CODES[err.code ?? ''] ?? 'BAD_REQUEST');
  void reply.status(status).send(apiError(code, status === 500 ? 'internal error; see the hub log' : err.message));
}

export interface HubOptions {
  bus: Bus;
  host: string;
  port: number;
  logger?: Logger;
  /** Where the `client` actors' records go (the hub's outbox). */
  sink: RecordSink;
  /** WebSocket client timings (queue bound, ping, heartbeat; issue 5), defaults in machines/wsClient.ts. */
  ws?: Partial<Pick<ClientHubOptions, 'maxQueueBytes' | 'maxWriteErrors' | 'pingIntervalMs' | 'maxMissedPongs' | 'closeTimeoutMs' | 'heartbeatIntervalMs'>>;
}

export interface Hub {
  app: FastifyInstance;
  url: string;
  port: number;
  /** Every `/ws` connection as a `client` actor; other features register their messages here. */
  clients: ClientHub;
  close(): Promise<void>;
}

/** HTTP (REST, /healthz, /metrics) and the `/ws` WebSocket for dashboards. */
export async function startHub(options: HubOptions): Promise<Hub> {
  const log = options.logger ?? componentLogger('hub');
  const nc: NatsConnection = options.bus.nc;
  const views = openProjectionViews(nc, log);
  const intake = createCommandIntake({ nc, devices: views.devices, logger: log });
  const responder = answerCommandRequests(nc, intake, log);
  const liveness = watchProjectorLiveness(nc);
  const counters = newHubCounters();
  let circuits: () => Record<string, string> = () => ({});
  const clients = createClientHub({
    ...options.ws,
    topics: [...WS_TOPICS, ...HUB_TOPICS],
    sink: options.sink,
    logger: log.child({ feature: 'ws' }),
    counters,
    heartbeatExtra: () => ({ circuits: circuits() }),
  });
  const projections = forwardProjections(nc, clients, log);
  const rpc = createRpcFeed(nc, clients, log.child({ feature: 'rpc' }));
  circuits = () => rpc.circuits();
  clients.onConnect((client) => rpc.greet(client));
  const feeds = startDashboardFeeds(nc, clients, log.child({ feature: 'dashboard-feeds' }));
  const metrics = { counters, clients: () => clients.count(), circuits: () => rpc.circuits() };
  registerHubMetrics(metrics);

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    // one line per request is too much at device-fleet rates; errors are still logged
    logController: new LogController({ disableRequestLogging: true }),
    // ids are bounded by the routes' schemas (512 characters), not by the router's default
    // of 100, which made long device ids (a 128-character name) unaddressable
    routerOptions: { maxParamLength: 8 * 1024 },
    frameworkErrors: sendApiError,
  }) as unknown as FastifyInstance;
  app.setErrorHandler((err: HttpError, request, reply) => sendApiError(err, request, reply));
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(apiError('NOT_FOUND', `no route ${request.method} ${request.url}`));
  });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  app.get('/ws', { websocket: true }, (socket, request) => clients.attach(socket, request.raw));
  app.get('/api/hub/metrics', async () => hubMetricsJson(metrics));
  registerApiRoutes(app, { intake, views });
  registerDashboardListRoutes(app, { views, feeds });
  registerMachineRoutes(app);
  registerOpsRoutes(app, { bus: options.bus, liveness, wsClients: () => clients.count() });
  await app.register(childRoutes, { nc, logger: log.child({ routes: 'children' }) });
  const sessions = registerTelemetrySessions(app, nc, clients, log);
  // after /dashboard/telemetry, which keeps its own page
  registerDashboardRoutes(app);

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${options.host}:${port}`;
  log.info({ url }, 'hub listening');
  return {
    app,
    url,
    port,
    clients,
    close: async () => {
      // every client is told SERVER_SHUTDOWN and closed before the server stops
      await clients.shutdown(options.ws?.closeTimeoutMs ?? 5_000);
      projections.stop();
      rpc.stop();
      feeds.stop();
      sessions.stop();
      responder.unsubscribe();
      liveness.stop();
      views.stop();
      await app.close();
    },
  };
}
