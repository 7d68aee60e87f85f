import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { broadcastSchema } from '../bus/schemas/projections.ts';
import { parseJsonWith } from '../bus/schemas/parse.ts';
import type { Logger } from '../log/logger.ts';
import type { ClientHub } from './ws/clientHub.ts';
import { WS_TOPICS } from './wsMessages.ts';

/**
 * Forwards every projected change (`broadcast.<topic>` from the projector) to the
 * dashboards subscribed to that topic as `{"type":<topic>,"key","value"}`; value null = deleted.
 * The `actor` entries of `client` actors (the dashboards themselves) are not forwarded.
 */
export function forwardProjections(nc: NatsConnection, clients: ClientHub, log: Logger): { stop(): void } {
  const subs: Subscription[] = WS_TOPICS.map((topic) =>
    nc.subscribe(`broadcast.${topic}`, {
      callback: (err, msg) => {
        if (err) return log.error({ err }, 'broadcast subscription failed');
        const parsed = parseJsonWith(broadcastSchema, 'broadcast', msg.data);
        if (!parsed.ok) return log.warn({ err: parsed.error.message }, 'broadcast ignored');
        // dashboards are not told about each other on `actor` (N clients connecting would be N² frames);
        // `client` actors stay in the `actors` bucket and /api/actors
        if (topic === 'actor' && parsed.value.key.startsWith('client.')) return;
        clients.broadcastFrame(topic, JSON.stringify({ type: parsed.value.topic, key: parsed.value.key, value: parsed.value.value }));
      },
    }),
  );
  return { stop: () => subs.forEach((s) => s.unsubscribe()) };
}
