import type { NatsConnection } from '@nats-io/transport-node';
import type { BroadcastChange } from '../bus/schemas/projections.ts';
import { BUCKETS, subjects, type BroadcastTopic } from '../bus/subjects.ts';
import type { Change } from './projectionStore.ts';

const TOPIC_OF_BUCKET: Record<string, BroadcastTopic> = {
  [BUCKETS.flows]: 'flow',
  [BUCKETS.devices]: 'device',
  [BUCKETS.deviceState]: 'device_state',
  [BUCKETS.actors]: 'actor',
  [BUCKETS.rpcCache]: 'rpc',
};

/** Characters of changes per broadcast message at most (nats-server's max_payload is 1 MB). */
const MAX_BROADCAST_CHARS = 128 * 1024;

/**
 * Projected changes → `broadcast.<topic>` (core NATS; the hub pushes them to dashboards):
 * one message per topic carrying that topic's changes in order, split where it would
 * exceed MAX_BROADCAST_CHARS. One message per change cost the projector, nats-server and
 * the hub a message's overhead each: 600 of them for 100 failed devices.
 */
export function broadcastChanges(nc: NatsConnection, changes: Change[]): void {
  const pending = new Map<BroadcastTopic, { parts: string[]; bytes: number }>();
  const send = (topic: BroadcastTopic, parts: string[]): void =>
    nc.publish(subjects.broadcast(topic), `{"topic":${JSON.stringify(topic)},"changes":[${parts.join(',')}]}`);
  for (const change of changes) {
    const topic = TOPIC_OF_BUCKET[change.bucket];
    if (!topic) continue;
    const part: BroadcastChange = { bucket: change.bucket, key: change.key, value: change.value };
    const json = JSON.stringify(part);
    const open = pending.get(topic) ?? { parts: [], bytes: 0 };
    if (open.parts.length > 0 && open.bytes + json.length > MAX_BROADCAST_CHARS) {
      send(topic, open.parts);
      open.parts = [];
      open.bytes = 0;
    }
    open.parts.push(json);
    open.bytes += json.length + 1;
    pending.set(topic, open);
  }
  for (const [topic, open] of pending) send(topic, open.parts);
}

export const PROJECTOR_HEARTBEAT_SUBJECT = 'broadcast.heartbeat.projector';
