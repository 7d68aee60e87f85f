import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { SnapshotFrom } from 'xstate';
import { z } from 'zod';
import type { esp32LinkMachine } from '../../machines/esp32Link.ts';
import { subjects } from '../bus/subjects.ts';
import type { Logger } from '../log/logger.ts';
import { statePath } from '../runtime/statePath.ts';

/**
 * `link.<token>.ping`: a NATS request answered by the link actor itself (the request
 * becomes the event `command.ping`, the reply is the machine's `replyPing` action), so an
 * answer proves the actor is processing events — including while it syncs keys. The
 * request body is ignored.
 */
export const linkPingReplySchema = z.object({
  ok: z.literal(true),
  link: z.string(),
  /** Full dotted state path, e.g. `ready.syncing`. */
  state: z.string(),
  at: z.string(),
  nodes: z.number().int(),
  keys: z.number().int(),
  packets: z.number().int(),
  failures: z.number().int(),
  pings: z.number().int(),
  last_sync: z.unknown().nullable(),
});
export type LinkPingReply = z.infer<typeof linkPingReplySchema>;

/** A link that no longer runs answers this instead (from the service, not the actor). */
export const linkStoppedReplySchema = z.object({ ok: z.literal(false), link: z.string(), state: z.literal('stopped') });

type LinkSnapshot = SnapshotFrom<typeof esp32LinkMachine>;

export function pingReplyOf(snapshot: LinkSnapshot): LinkPingReply {
  const c = snapshot.context;
  return {
    ok: true,
    link: c.linkId,
    state: statePath(snapshot.value),
    at: new Date(c.now()).toISOString(),
    nodes: Object.keys(c.nodes).length,
    keys: Object.keys(c.keys).length,
    packets: c.stats.packets,
    failures: c.failures,
    pings: c.stats.pings,
    last_sync: c.lastSync,
  };
}

export interface PingResponder {
  /** The machine's `replyPing` action: answers the request `requestId`. */
  reply(requestId: string, snapshot: LinkSnapshot): void;
  /** Starts answering `link.<token>.ping` by handing each request to `deliver`. */
  listen(nc: NatsConnection, deliver: (requestId: string) => void): Subscription;
  close(): void;
}

export function createPingResponder(linkId: string, logger: Logger): PingResponder {
  const pending = new Map<string, Msg>();
  let next = 0;
  let subscription: Subscription | undefined;
  const respond = (msg: Msg, body: unknown): void => {
    try {
      msg.respond(JSON.stringify(body));
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'ping reply failed');
    }
  };
  return {
    reply(requestId, snapshot) {
      const msg = pending.get(requestId);
      if (!msg) return;
      pending.delete(requestId);
      respond(msg, pingReplyOf(snapshot));
    },
    listen(nc, deliver) {
      subscription = nc.subscribe(subjects.linkPing(linkId), {
        callback: (err, msg) => {
          if (err) return;
          const requestId = String(++next);
          pending.set(requestId, msg);
          deliver(requestId);
          // an actor that has stopped handles no event: answer for it
          if (pending.delete(requestId)) respond(msg, { ok: false, link: linkId, state: 'stopped' });
        },
      });
      return subscription;
    },
    close() {
      subscription?.unsubscribe();
      pending.clear();
    },
  };
}
