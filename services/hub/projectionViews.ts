import type { NatsConnection } from '@nats-io/transport-node';
import { actorEntrySchema, deviceEntrySchema, flowEntrySchema, type ActorEntry, type DeviceEntry, type FlowEntry } from '../bus/schemas/projections.ts';
import { BUCKETS } from '../bus/subjects.ts';
import type { Logger } from '../log/logger.ts';
import { mirrorBucket, type BucketMirror } from './bucketMirror.ts';

export interface ProjectionViews {
  devices: BucketMirror<DeviceEntry>;
  flows: BucketMirror<FlowEntry>;
  actors: BucketMirror<ActorEntry>;
  stop(): void;
}

const parser = <T>(schema: { safeParse(v: unknown): { success: boolean; data?: T } }) => (value: unknown): T | undefined => {
  const r = schema.safeParse(value);
  return r.success ? r.data : undefined;
};

/** The hub's live, in-memory copies of the projections it serves. */
export function openProjectionViews(nc: NatsConnection, log: Logger): ProjectionViews {
  const devices = mirrorBucket(nc, BUCKETS.devices, parser<DeviceEntry>(deviceEntrySchema), log);
  const flows = mirrorBucket(nc, BUCKETS.flows, parser<FlowEntry>(flowEntrySchema), log);
  const actors = mirrorBucket(nc, BUCKETS.actors, parser<ActorEntry>(actorEntrySchema), log);
  return {
    devices,
    flows,
    actors,
    stop: () => [devices, flows, actors].forEach((m) => m.stop()),
  };
}
