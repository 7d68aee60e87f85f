import replyFrom from '@fastify/reply-from';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ErrorEvent } from '../../../machines/lib/errorEvent.ts';
import { childCommandReplySchema, childEntrySchema, type ChildEntry } from '../../bus/schemas/children.ts';
import { parseJsonWith } from '../../bus/schemas/parse.ts';
import { BUCKETS, subjects } from '../../bus/subjects.ts';
import { encodeToken } from '../../bus/tokens.ts';
import type { Logger } from '../../log/logger.ts';
import { apiError } from '../apiError.ts';
import { mirrorBucket } from '../bucketMirror.ts';

export interface ChildRoutesOptions {
  nc: NatsConnection;
  logger: Logger;
  /** How long a start/stop request waits for the child's supervisor. */
  commandTimeoutMs?: number;
  /** A proxied request's upstream answer, at most (headers). */
  proxyTimeoutMs?: number;
}

const nameParams = z.object({ name: z.string().min(1).max(64) });

/** What an HTTP client may see of an error: code, message and the troubleshooting steps. */
function publicError(error: ErrorEvent): { code: string; message: string; troubleshooting: string[] } {
  const steps = error.details?.troubleshooting;
  return { code: error.code, message: error.message, troubleshooting: Array.isArray(steps) ? steps.map(String) : [] };
}

/** `GET /api/children/:name`: the child's status from the `children` projection. */
export function childStatus(entry: ChildEntry, now = Date.now()) {
  return {
    name: entry.name,
    state: entry.state,
    ready: entry.ready,
    restarting: entry.restarting,
    restart_attempts: entry.restart_attempts,
    restart_budget: {
      max: entry.restart_budget.max,
      window_ms: entry.restart_budget.window_ms,
      // restarts still inside the sliding window now (MaxR in MaxT)
      used: entry.restart_budget.restarts_at.filter((at) => Date.parse(at) > now - entry.restart_budget.window_ms).length,
    },
    last_error: entry.last_error ? publicError(entry.last_error) : null,
    uptime_ms: entry.ready && entry.ready_since ? Math.max(0, now - Date.parse(entry.ready_since)) : null,
    last_health_check: entry.last_health_check,
    last_exit: entry.last_exit,
    pid: entry.pid,
    mode: entry.mode,
    updated_at: entry.updated_at,
  };
}

/** Why a child that is not ready cannot serve: its current error, or its state. */
export function unavailableReason(entry: ChildEntry): { code: string; message: string; troubleshooting: string[] } {
  const top = entry.state.split('.')[0];
  const hub = 'http://127.0.0.1:7070';
  if (entry.last_error && (top === 'failed' || entry.restarting)) {
    const e = publicError(entry.last_error);
    return { ...e, message: `${entry.name} is ${entry.state}: ${e.message}` };
  }
  if (top === 'stopping' || top === 'stopped') {
    return {
      code: 'CHILD_STOPPED',
      message: `${entry.name} is ${entry.state}`,
      troubleshooting: [`start it: curl -X POST ${hub}/api/children/${encodeURIComponent(entry.name)}/start (the hub's default address)`],
    };
  }
  const check = entry.last_health_check;
  return {
    code: 'CHILD_NOT_READY',
    message: `${entry.name} is ${entry.state}, not ready yet${check && !check.ok ? ` (last health check: ${check.reason})` : ''}`,
    troubleshooting: [`follow it: npx lifeline watch 'conn.child.${encodeToken(entry.name)}.>'`],
  };
}

/** The 503 of the status-dependent routes: `{"error":{code,message,troubleshooting},"status":{…}}`. */
function sendUnavailable(reply: FastifyReply, entry: ChildEntry): FastifyReply {
  return reply.status(503).send({ error: unavailableReason(entry), status: childStatus(entry) });
}

/**
 * The children's routes, an encapsulated plugin: status (`/api/children`,
 * `/api/children/:name`, `/api/health/:name`), start/stop (a NATS request to the child's
 * supervisor), and the gateway `/api/children/:name/proxy/*`, which forwards to the child
 * while it is ready (@fastify/reply-from: streamed both ways, hop-by-hop headers handled)
 * and answers 503 with the reason otherwise.
 */
export async function childRoutes(app: FastifyInstance, options: ChildRoutesOptions): Promise<void> {
  const log = options.logger;
  const children = mirrorBucket(options.nc, BUCKETS.children, (v) => childEntrySchema.safeParse(v).data, log);
  app.addHook('onClose', async () => children.stop());

  const lookup = (request: FastifyRequest, reply: FastifyReply): ChildEntry | undefined => {
    const params = nameParams.safeParse(request.params);
    const entry = params.success ? children.get(encodeToken(params.data.name)) : undefined;
    if (!entry) void reply.status(404).send(apiError('CHILD_NOT_FOUND', `no child named ${params.data?.name ?? '?'} is supervised`));
    return entry;
  };

  app.get('/api/children', async () => children.values().sort((a, b) => a.name.localeCompare(b.name)).map((e) => childStatus(e)));

  app.get('/api/children/:name', async (request, reply) => {
    const entry = lookup(request, reply);
    return entry ? childStatus(entry) : reply;
  });

  app.get('/api/health/:name', async (request, reply) => {
    const entry = lookup(request, reply);
    if (!entry) return reply;
    if (!entry.ready) return sendUnavailable(reply, entry);
    return { name: entry.name, status: 'ready', uptime_ms: childStatus(entry).uptime_ms, last_health_check: entry.last_health_check };
  });

  for (const action of ['start', 'stop'] as const) {
    app.post(`/api/children/:name/${action}`, async (request, reply) => {
      const entry = lookup(request, reply);
      if (!entry) return reply;
      try {
        const answer = await options.nc.request(subjects.childCommand(entry.name), JSON.stringify({ action }), { timeout: options.commandTimeoutMs ?? 3_000 });
        const parsed = parseJsonWith(childCommandReplySchema, 'child command reply', answer.data);
        if (!parsed.ok) throw parsed.error;
        return reply.status(parsed.value.status).send(parsed.value.body);
      } catch (err) {
        log.warn({ child: entry.name, action, err: (err as Error).message }, 'child command not answered');
        return reply.status(503).send(apiError('SUPERVISOR_UNAVAILABLE', `the supervisor of ${entry.name} did not answer; is it running?`));
      }
    });
  }

  // the gateway: bodies pass through untouched (no parsing, no body limit of the API)
  await app.register(async (proxy) => {
    await proxy.register(replyFrom, { undici: { headersTimeout: options.proxyTimeoutMs ?? 30_000 } });
    proxy.removeAllContentTypeParsers();
    proxy.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    const forward = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const entry = lookup(request, reply);
      if (!entry) return reply;
      if (!entry.ready) return sendUnavailable(reply, entry);
      const path = request.url.split('?')[0]!;
      const at = path.indexOf('/proxy');
      const rest = path.slice(at + '/proxy'.length) || '/';
      return reply.from(rest, {
        getUpstream: () => entry.url,
        onError: (r, { error }) => {
          log.warn({ child: entry.name, err: error.message }, 'proxied request failed');
          void r.status(503).send({
            error: {
              code: 'CHILD_UNREACHABLE',
              message: `${entry.name} did not answer the proxied request (${error.message})`,
              troubleshooting: [`probe it: curl -sv ${entry.health_url}`, `follow it: npx lifeline watch 'conn.child.${encodeToken(entry.name)}.>'`],
            },
            status: childStatus(entry),
          });
        },
      });
    };
    proxy.all('/api/children/:name/proxy', forward);
    proxy.all('/api/children/:name/proxy/*', forward);
  });
}
