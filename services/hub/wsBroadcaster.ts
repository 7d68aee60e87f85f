import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { WebSocket } from 'ws';
import { broadcastSchema } from '../bus/schemas/projections.ts';
import { parseJsonWith } from '../bus/schemas/parse.ts';
import type { Logger } from '../log/logger.ts';
import { WS_TOPICS, wsClientMessageSchema, type WsTopic } from './wsMessages.ts';

export interface WsBroadcaster {
  attach(socket: WebSocket): void;
  clients(): number;
  stop(): void;
}

/** Past this many unsent bytes a client is too slow: it is told and closed. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
export const SLOW_CLIENT_CLOSE_CODE = 4008;

/**
 * Forwards every projected change (`broadcast.<topic>` from the projector) to the
 * dashboards on `/ws` as `{"type":<topic>,"key","value"}`; value null = deleted.
 */
export function createWsBroadcaster(nc: NatsConnection, log: Logger): WsBroadcaster {
  const clients = new Map<WebSocket, Set<WsTopic>>();
  const subs: Subscription[] = WS_TOPICS.map((topic) =>
    nc.subscribe(`broadcast.${topic}`, {
      callback: (err, msg) => {
        if (err) return log.error({ err }, 'broadcast subscription failed');
        const parsed = parseJsonWith(broadcastSchema, 'broadcast', msg.data);
        if (!parsed.ok) return log.warn({ err: parsed.error.message }, 'broadcast ignored');
        const frame = JSON.stringify({ type: parsed.value.topic, key: parsed.value.key, value: parsed.value.value });
        for (const [socket, topics] of clients) if (topics.has(topic)) send(socket, frame);
      },
    }),
  );

  function send(socket: WebSocket, frame: string): void {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      log.warn({ buffered: socket.bufferedAmount }, 'slow WebSocket client closed');
      clients.delete(socket);
      socket.close(SLOW_CLIENT_CLOSE_CODE, 'SLOW_CLIENT: buffer full, connection closing');
      return;
    }
    socket.send(frame);
  }

  return {
    attach(socket) {
      clients.set(socket, new Set(WS_TOPICS));
      socket.send(JSON.stringify({ type: 'welcome', topics: WS_TOPICS }));
      socket.on('message', (data) => {
        const parsed = parseJsonWith(wsClientMessageSchema, 'WebSocket message', data.toString());
        if (!parsed.ok) return send(socket, JSON.stringify({ type: 'error', code: 'INVALID_MESSAGE', message: parsed.error.message }));
        if (parsed.value.type === 'ping') return send(socket, JSON.stringify({ type: 'pong' }));
        clients.set(socket, new Set(parsed.value.topics));
        send(socket, JSON.stringify({ type: 'subscribed', topics: parsed.value.topics }));
      });
      socket.on('close', () => clients.delete(socket));
      socket.on('error', () => clients.delete(socket));
    },
    clients: () => clients.size,
    stop: () => {
      subs.forEach((s) => s.unsubscribe());
      for (const socket of clients.keys()) socket.close(1001, 'SERVER_SHUTDOWN');
      clients.clear();
    },
  };
}
