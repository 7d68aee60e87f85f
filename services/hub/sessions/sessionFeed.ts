import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { parseJsonWith } from '../../bus/schemas/parse.ts';
import { sessionKey, sessionNoticeSchema, type SessionPart } from '../../bus/schemas/telemetry.ts';
import { BUCKETS, subjects } from '../../bus/subjects.ts';
import type { Logger } from '../../log/logger.ts';
import type { ClientHub } from '../ws/clientHub.ts';
import { joinSessionSchema, leaveSessionSchema, type SessionServerFrame } from './sessionMessages.ts';
import { createSessionRegistry } from './sessionRegistry.ts';

/** What the feed needs of the hub's WebSocket clients (services/hub/ws/clientHub.ts). */
export type SessionClients = Pick<ClientHub, 'handle' | 'sendTo'>;

export interface SessionFeed {
  /** Clients joined to a session. */
  joined(): number;
  stop(): void;
}

const PARTS: SessionPart[] = ['setup', 'telemetry', 'gap', 'publisher'];

/**
 * Telemetry sessions on the hub's WebSocket: `join_session` answers at once with the
 * latest setup, telemetry, gap and publisher state from bucket `sessions`, then every
 * validated update the projector announces on `broadcast.session.<token>`, in order
 * (updates that arrive while the snapshot is read are held and sent after it). An
 * unknown session is an error to that client only.
 */
export function createSessionFeed(nc: NatsConnection, clients: SessionClients, log: Logger): SessionFeed {
  /** Client ids; a client that is gone (sendTo false) is forgotten at its next update. */
  const registry = createSessionRegistry<string>();
  /** Clients whose snapshot is being read: live updates wait here. */
  const pending = new Map<string, SessionServerFrame[]>();
  const send = (client: string, frame: SessionServerFrame): void => {
    if (clients.sendTo(client, frame)) return;
    pending.delete(client);
    registry.leave(client);
  };
  let kv: Promise<KV> | undefined;
  const bucket = (): Promise<KV> => (kv ??= new Kvm(nc).open(BUCKETS.sessions).catch((err: unknown) => {
    kv = undefined;
    throw err;
  }));

  const sub: Subscription = nc.subscribe(subjects.allSessionNotices, {
    callback: (err, msg) => {
      if (err) return log.error({ err }, 'session notice subscription failed');
      const parsed = parseJsonWith(sessionNoticeSchema, 'session notice', msg.data);
      if (!parsed.ok) return log.warn({ err: parsed.error.message }, 'session notice ignored');
      const n = parsed.value;
      const frame: SessionServerFrame = { type: 'session_update', session_id: n.session_id, part: n.type, value: n.value };
      for (const client of registry.clientsOf(n.session_id)) {
        const queue = pending.get(client);
        if (queue) queue.push(frame);
        else send(client, frame);
      }
    },
  });

  async function join(client: string, sessionId: string): Promise<void> {
    registry.join(client, sessionId);
    const queue: SessionServerFrame[] = [];
    pending.set(client, queue);
    try {
      const store = await bucket();
      const entries = await Promise.all(PARTS.map((part) => store.get(sessionKey(sessionId, part))));
      const values = entries.map((e) => (e && e.operation === 'PUT' ? (e.json() as unknown) : null));
      if (pending.get(client) !== queue) return; // joined another session meanwhile
      const [setup, telemetry, gap, publisher] = values;
      if (setup === null && telemetry === null && publisher === null) {
        registry.leave(client);
        send(client, { type: 'error', code: 'SESSION_NOT_FOUND', message: `no telemetry session "${sessionId}"`, session_id: sessionId });
        return;
      }
      send(client, { type: 'session_joined', session_id: sessionId, setup, telemetry, gap, publisher });
      for (const frame of queue) send(client, frame);
    } catch (err) {
      log.error({ err: (err as Error).message, session: sessionId }, 'could not read the session');
      if (pending.get(client) === queue) registry.leave(client);
      send(client, { type: 'error', code: 'SESSION_UNAVAILABLE', message: `session "${sessionId}" could not be read; try again`, session_id: sessionId });
    } finally {
      if (pending.get(client) === queue) pending.delete(client);
    }
  }

  clients.handle('join_session', joinSessionSchema, (client, message) => void join(client.id, message.session_id));
  clients.handle('leave_session', leaveSessionSchema, (client) => {
    pending.delete(client.id);
    registry.leave(client.id);
  });

  return {
    joined: () => registry.size(),
    stop() {
      sub.unsubscribe();
    },
  };
}
