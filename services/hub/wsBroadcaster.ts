import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { broadcastSchema, flowEntrySchema, type FlowEntry } from '../bus/schemas/projections.ts';
import { mergeFlow } from '../projector/flowMerge.ts';
import { parseJsonWith } from '../bus/schemas/parse.ts';
import type { Logger } from '../log/logger.ts';
import type { ClientHub } from './ws/clientHub.ts';
import { WS_TOPICS } from './wsMessages.ts';

/** Nodes whose last flow frame is remembered (the least recently changed are forgotten first). */
const MAX_REMEMBERED_FLOWS = 100_000;

/**
 * Forwards every projected change (`broadcast.<topic>` from the projector) to the
 * dashboards subscribed to that topic as `{"type":<topic>,"key","value"}`; value null = deleted.
 * The `actor` entries of `client` actors (the dashboards themselves) are not forwarded.
 * Flow frames pass through the flow join (flowMerge.ts): the hub's intake and the projector
 * both announce flows, from two connections, so a `started` can arrive after the device's
 * `in progress`; a frame the join says is older than (or the same as) the last one sent
 * for its node is dropped, so a dashboard never sees a flow go backwards or twice.
 */
export function forwardProjections(nc: NatsConnection, clients: ClientHub, log: Logger): { stop(): void } {
  const lastFlow = new Map<string, FlowEntry>();
  /** false: the frame is stale and not forwarded. */
  const advancesFlow = (key: string, value: unknown): boolean => {
    if (value === null) {
      lastFlow.delete(key);
      return true;
    }
    const flow = flowEntrySchema.safeParse(value);
    if (!flow.success) return true;
    const last = lastFlow.get(key);
    const merged = mergeFlow(last, flow.data);
    if (last && merged === last) return false;
    lastFlow.delete(key); // re-inserted last: the map's order is least recently changed first
    lastFlow.set(key, merged);
    if (lastFlow.size > MAX_REMEMBERED_FLOWS) lastFlow.delete(lastFlow.keys().next().value!);
    return true;
  };
  const subs: Subscription[] = WS_TOPICS.map((topic) =>
    nc.subscribe(`broadcast.${topic}`, {
      callback: (err, msg) => {
        if (err) return log.error({ err }, 'broadcast subscription failed');
        const parsed = parseJsonWith(broadcastSchema, 'broadcast', msg.data);
        if (!parsed.ok) return log.warn({ err: parsed.error.message }, 'broadcast ignored');
        for (const change of parsed.value.changes) {
          // dashboards are not told about each other on `actor` (N clients connecting would be N² frames);
          // `client` actors stay in the `actors` bucket and /api/actors
          if (topic === 'actor' && change.key.startsWith('client.')) continue;
          if (topic === 'flow' && !advancesFlow(change.key, change.value)) continue;
          clients.broadcastFrame(topic, JSON.stringify({ type: parsed.value.topic, key: change.key, value: change.value }));
        }
      },
    }),
  );
  return { stop: () => subs.forEach((s) => s.unsubscribe()) };
}
