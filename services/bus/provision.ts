import {
  DiscardPolicy,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS, STREAMS } from './subjects.ts';

const SECOND_NS = 1_000_000_000;
/** Telemetry is kept a week (the `sessions` projection is rebuilt from what is left). */
const TELEMETRY_MAX_AGE_S = 7 * 24 * 3600;

export interface ProvisionOptions {
  /** Replicas for streams and buckets (1 on a single server, 3 on a cluster). */
  replicas?: number;
  /** How long JetStream remembers a Nats-Msg-Id to drop a retried duplicate. */
  duplicateWindowSeconds?: number;
  /** Extra KV buckets a connection kind needs (each kind's issue defines its own). */
  extraBuckets?: string[];
}

/**
 * Creates streams CONN, COMMANDS and TELEMETRY and the projection buckets, or leaves them as
 * they are when they exist already: safe to run at every start.
 */
/** Per-stream settings beyond the common ones (telemetry samples age out; the log does not). */
const STREAM_LIMITS: Record<string, { max_age?: number }> = {
  [STREAMS.telemetry]: { max_age: TELEMETRY_MAX_AGE_S * SECOND_NS },
};

export async function provision(nc: NatsConnection, options: ProvisionOptions = {}): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const replicas = options.replicas ?? 1;
  const duplicateWindow = (options.duplicateWindowSeconds ?? 600) * SECOND_NS;
  const streams: Array<[name: string, subjects: string[]]> = [
    [STREAMS.conn, ['conn.>']],
    [STREAMS.commands, ['commands.>']],
    [STREAMS.telemetry, ['telemetry.>']],
  ];
  for (const [name, subjects] of streams) {
    await ensureStream(jsm, {
      name,
      subjects,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: replicas,
      duplicate_window: duplicateWindow,
      ...(STREAM_LIMITS[name] ?? {}),
    });
  }
  const kvm = new Kvm(nc);
  for (const bucket of [...Object.values(BUCKETS), ...(options.extraBuckets ?? [])]) {
    await kvm.create(bucket, { history: 1, replicas, storage: StorageType.File });
  }
}

type StreamSpec = Parameters<JetStreamManager['streams']['add']>[0] & { name: string };

async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  try {
    await jsm.streams.info(spec.name);
    await jsm.streams.update(spec.name, spec);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    await jsm.streams.add(spec);
  }
}
