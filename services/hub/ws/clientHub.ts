/**
 * Every dashboard WebSocket on `/ws` as a `client` actor (machines/wsClient.ts), and the
 * typed messages between them and the hub.
 *
 * EXTENSION POINT (other features that speak on the same socket, e.g. telemetry's
 * `join_session`):
 *
 *   hub.clients.handle('join_session', z.object({ type: z.literal('join_session'), session: z.string() }),
 *     (client, message) => { …; client.send({ type: 'session', … }); });
 *   hub.clients.addTopics(['session']);            // clients may then subscribe to it
 *   hub.clients.broadcast('session', { type: 'session', … });   // to every subscriber of the topic
 *   hub.clients.sendTo(clientId, { type: 'session', … });       // to one client
 *
 * Inbound frames are JSON objects with a string `type`; each type has one handler and its
 * own zod schema (a frame that fails it gets `{"type":"error","code":"INVALID_MESSAGE"}`).
 * Outbound messages go through the client's actor, which enforces the send queue bound.
 * Built in: `subscribe {topics}` (replaces the set; default: every topic), `ping` → `pong`.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { SnapshotFrom } from 'xstate';
import { queueHasRoom, summarizeWsClient, wsClientMachine, type WsClientTiming } from '../../../machines/wsClient.ts';
import { parseJsonWith } from '../../bus/schemas/parse.ts';
import type { Logger } from '../../log/logger.ts';
import { hostActor, type HostedActor, type RecordSink } from '../../runtime/host.ts';
import { statePath } from '../../runtime/statePath.ts';
import type { HubCounters } from '../hubMetrics.ts';

export interface ClientHubOptions extends Partial<WsClientTiming> {
  /** Heartbeat `{type:"heartbeat", clients, …}` to every client this often. */
  heartbeatIntervalMs?: number;
  /** Topics a client may subscribe to (more can be added with addTopics). */
  topics: readonly string[];
  sink: RecordSink;
  logger: Logger;
  counters: HubCounters;
  /** Extra fields of every heartbeat (e.g. the circuits of the RPC pollers). */
  heartbeatExtra?: () => Record<string, unknown>;
}

/** What a handler and other modules see of one client. */
export interface ClientHandle {
  readonly id: string;
  topics(): ReadonlySet<string>;
  /** Queues a typed message (subject to the send-queue bound). */
  send(message: { type: string } & Record<string, unknown>): void;
}

export type InboundHandler<T> = (client: ClientHandle, message: T) => void;

export interface ClientHub {
  attach(socket: WebSocket, request: IncomingMessage): void;
  handle<S extends z.ZodType<{ type: string }>>(type: string, schema: S, handler: InboundHandler<z.infer<S>>): void;
  addTopics(topics: readonly string[]): void;
  /** Runs for every new client after its welcome (e.g. to send it the current state). */
  onConnect(listener: (client: ClientHandle) => void): void;
  topics(): readonly string[];
  broadcast(topic: string, message: { type: string } & Record<string, unknown>): void;
  /** Sends an already-serialized frame to every subscriber of `topic` (one JSON.stringify for all). */
  broadcastFrame(topic: string, frame: string): void;
  sendTo(clientId: string, message: { type: string } & Record<string, unknown>): boolean;
  /** Everyone, whatever they subscribed to (heartbeats, notices). */
  sendToAll(message: { type: string } & Record<string, unknown>, except?: string): void;
  count(): number;
  /** SERVER_SHUTDOWN to every client, then waits (bounded) until every connection is closed. */
  shutdown(timeoutMs?: number): Promise<void>;
}

type ClientActor = HostedActor<typeof wsClientMachine>;
interface Connection {
  handle: ClientHandle;
  write(frame: string): void;
  hosted: ClientActor;
  socket: WebSocket;
}

const envelope = z.object({ type: z.string().min(1) }).loose();

export function createClientHub(options: ClientHubOptions): ClientHub {
  const { logger: log, counters } = options;
  const connections = new Map<string, Connection>();
  const handlers = new Map<string, { schema: z.ZodType<{ type: string }>; handler: InboundHandler<never> }>();
  const topicSet = new Set<string>(options.topics);
  const connectListeners: Array<(client: ClientHandle) => void> = [];
  const base = Date.now().toString(36);
  let nextId = 0;
  const timing: Partial<WsClientTiming> = {};
  for (const k of ['maxQueueBytes', 'maxWriteErrors', 'pingIntervalMs', 'maxMissedPongs', 'closeTimeoutMs'] as const) {
    if (options[k] !== undefined) timing[k] = options[k];
  }

  /**
   * Fast path: an open client whose queue has room gets the frame written at once (the
   * machine's own rule, queueHasRoom); only a frame that does not fit goes through the
   * actor, which decides SLOW_CLIENT. A frame per client per broadcast through XState (and
   * its inspection) cost ~1 ms of hub CPU per 20 frames (bench: hub fan-out).
   */
  const sendFrame = (c: Connection, frame: string): void => {
    const bytes = Buffer.byteLength(frame);
    const buffered = c.socket.bufferedAmount;
    const snapshot = c.hosted.actor.getSnapshot();
    if (snapshot.value === 'open' && queueHasRoom(snapshot.context.timing, buffered, bytes)) c.write(frame);
    else c.hosted.actor.send({ type: 'frame.send', frame, bytes, buffered });
  };

  const hub: ClientHub = {
    attach(socket, request) {
      const id = `${base}-${(++nextId).toString(36)}`;
      const remote = `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`;
      const clientLog = log.child({ client_id: id });
      // the upgraded request's TCP socket is the one the WebSocket writes to
      const tcp = request.socket;
      let corked = false;
      const write = (frame: string): void => {
        if (socket.readyState !== socket.OPEN) return;
        // frames written in the same tick leave in one write: a burst of projected changes
        // (100 failed devices: 600 frames) cost one system call per frame before
        if (!corked) {
          corked = true;
          tcp.cork();
          process.nextTick(() => {
            corked = false;
            tcp.uncork();
          });
        }
        socket.send(frame, (err) => {
          if (err) {
            counters.writeErrors += 1;
            hosted.actor.send({ type: 'write.failed', message: err.message });
          } else if (hosted.actor.getSnapshot().context.writeErrors > 0) hosted.actor.send({ type: 'write.ok' });
        });
      };
      const machine = wsClientMachine.provide({
        actions: {
          writeFrame: (_, { frame }) => write(frame),
          writeNotice: (_, notice) => write(JSON.stringify({ ...notice, client_id: id, at: new Date().toISOString() })),
          sendPing: () => {
            if (socket.readyState === socket.OPEN) socket.ping();
          },
          closeSocket: (_, { code, reason }) => socket.close(code, reason),
          terminateSocket: () => socket.terminate(),
          reportDrop: ({ context }) => {
            const code = context.error?.code;
            if (code === 'SLOW_CLIENT') counters.slowClientDrops += 1;
            if (code === 'DEAD_CLIENT') counters.deadClients += 1;
            counters.errors += 1;
            clientLog.warn({ code, remote, reason: context.error?.message }, `client dropped: ${code}`);
          },
          announceDisconnect: ({ context }) => {
            hub.sendToAll(
              {
                type: 'connection_error',
                code: 'CLIENT_DISCONNECTED',
                client_id: id,
                reason: context.closeReason ?? context.error?.code ?? 'unknown',
                close_code: context.closeCode,
                message: context.error?.message ?? `client ${id} disconnected`,
                at: new Date().toISOString(),
              },
              id,
            );
          },
        },
      });
      const hosted: ClientActor = hostActor({
        machine,
        kind: 'client',
        id,
        input: { clientId: id, remote, topics: [...topicSet], timing },
        sink: options.sink,
        summarize: (s: SnapshotFrom<typeof machine>) => summarizeWsClient(s.context),
        errorOf: (s: SnapshotFrom<typeof machine>) => s.context.error ?? undefined,
        logger: clientLog,
      });
      const handle: ClientHandle = {
        id,
        topics: () => new Set(hosted.actor.getSnapshot().context.topics),
        send: (message) => sendFrame(conn, JSON.stringify(message)),
      };
      const conn: Connection = { handle, hosted, socket, write };
      connections.set(id, conn);
      counters.clientsTotal += 1;
      hosted.actor.subscribe({
        complete: () => {
          connections.delete(id);
          clientLog.debug({ state: statePath(hosted.actor.getSnapshot().value) }, 'client closed');
        },
      });

      socket.on('pong', () => hosted.actor.send({ type: 'pong.received' }));
      socket.on('message', (data) => {
        hosted.actor.send({ type: 'pong.received' }); // any frame proves the client alive
        const text = data.toString();
        const parsed = parseJsonWith(envelope, 'WebSocket message', text);
        const entry = parsed.ok ? handlers.get(parsed.value.type) : undefined;
        const message = entry ? entry.schema.safeParse(parsed.ok ? parsed.value : undefined) : undefined;
        if (!entry || !message?.success) {
          counters.readErrors += 1;
          const why = !parsed.ok ? parsed.error.message : !entry ? `unknown message type '${parsed.value.type}'` : z.prettifyError(message!.error!);
          return handle.send({ type: 'error', code: 'INVALID_MESSAGE', message: why });
        }
        try {
          (entry.handler as InboundHandler<unknown>)(handle, message.data);
        } catch (err) {
          counters.errors += 1;
          clientLog.error({ err, type: parsed.ok ? parsed.value.type : '?' }, 'WebSocket message handler failed');
          handle.send({ type: 'error', code: 'INTERNAL', message: 'the message could not be handled; see the hub log' });
        }
      });
      socket.on('error', (err) => {
        counters.readErrors += 1;
        clientLog.warn({ err: err.message }, 'WebSocket error');
      });
      socket.on('close', (code, reason) => hosted.actor.send({ type: 'socket.closed', code, reason: reason.toString() }));
      handle.send({ type: 'welcome', client_id: id, topics: [...topicSet] });
      for (const listener of connectListeners) listener(handle);
    },
    onConnect(listener) {
      connectListeners.push(listener);
    },

    handle(type, schema, handler) {
      if (handlers.has(type)) throw new Error(`a WebSocket handler for '${type}' is registered already`);
      handlers.set(type, { schema, handler: handler as InboundHandler<never> });
    },
    addTopics(topics) {
      topics.forEach((t) => topicSet.add(t));
    },
    topics: () => [...topicSet],
    broadcast(topic, message) {
      hub.broadcastFrame(topic, JSON.stringify(message));
    },
    broadcastFrame(topic, frame) {
      for (const c of connections.values()) {
        if (c.hosted.actor.getSnapshot().context.topics.includes(topic)) sendFrame(c, frame);
      }
    },
    sendTo(clientId, message) {
      const c = connections.get(clientId);
      if (!c) return false;
      c.handle.send(message);
      return true;
    },
    sendToAll(message, except) {
      const frame = JSON.stringify(message);
      for (const [id, c] of connections) if (id !== except) sendFrame(c, frame);
    },
    count: () => connections.size,
    async shutdown(timeoutMs = 5_000) {
      clearInterval(heartbeat);
      const all = [...connections.values()];
      all.forEach((c) => c.hosted.actor.send({ type: 'server.shutdown' }));
      const deadline = Date.now() + timeoutMs;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const c of connections.values()) {
        c.socket.terminate();
        c.hosted.stop();
      }
      connections.clear();
    },
  };

  const subscribeSchema = z.object({
    type: z.literal('subscribe'),
    topics: z
      .array(z.string())
      .min(1)
      .refine((ts) => ts.every((t) => topicSet.has(t)), { message: 'unknown topic' }),
  });
  hub.handle('subscribe', subscribeSchema, (client, message) => {
    connections.get(client.id)?.hosted.actor.send({ type: 'topics.set', topics: message.topics });
    client.send({ type: 'subscribed', topics: message.topics });
  });
  hub.handle('ping', z.object({ type: z.literal('ping') }), (client) => client.send({ type: 'pong', at: new Date().toISOString() }));
  hub.handle('pong', z.object({ type: z.literal('pong') }), () => {});

  const heartbeat = setInterval(() => {
    hub.sendToAll({ type: 'heartbeat', clients: connections.size, at: new Date().toISOString(), ...options.heartbeatExtra?.() });
  }, options.heartbeatIntervalMs ?? 10_000);
  heartbeat.unref();
  return hub;
}
