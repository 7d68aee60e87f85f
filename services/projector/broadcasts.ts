import type { NatsConnection } from '@nats-io/transport-node';
import type { Broadcast } from '../bus/schemas/projections.ts';
import { BUCKETS, subjects, type BroadcastTopic } from '../bus/subjects.ts';
import type { Change } from './projectionStore.ts';

const TOPIC_OF_BUCKET: Record<string, BroadcastTopic> = {
  [BUCKETS.flows]: 'flow',
  [BUCKETS.devices]: 'device',
  [BUCKETS.deviceState]: 'device_state',
  [BUCKETS.actors]: 'actor',
  [BUCKETS.rpcCache]: 'rpc',
};

/** Projected changes → `broadcast.<topic>` (core NATS; the hub pushes them to dashboards). */
export function broadcastChanges(nc: NatsConnection, changes: Change[]): void {
  for (const change of changes) {
    const topic = TOPIC_OF_BUCKET[change.bucket];
    if (!topic) continue;
    const message: Broadcast = { topic, bucket: change.bucket, key: change.key, value: change.value };
    nc.publish(subjects.broadcast(topic), JSON.stringify(message));
  }
}

export const PROJECTOR_HEARTBEAT_SUBJECT = 'broadcast.heartbeat.projector';
