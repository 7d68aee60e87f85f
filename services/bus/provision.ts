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
import { clusterShapeOf, replicasFor } from './replicaCount.ts';
import { BUCKETS, STREAMS } from './subjects.ts';

const SECOND_NS = 1_000_000_000;
/** Telemetry is kept a week (the `sessions` projection is rebuilt from what is left). */
const TELEMETRY_MAX_AGE_S = 7 * 24 * 3600;

export interface ProvisionOptions {
  /**
   * Replicas for streams and buckets. 'auto' (default): 3 when the server is part of a
   * cluster of at least three servers, else 1 (see replicaCount.ts); an existing stream or
   * bucket is then never scaled down, only up. A number: exactly that many, up or down.
   */
  replicas?: number | 'auto';
  /** How long JetStream remembers a Nats-Msg-Id to drop a retried duplicate. */
  duplicateWindowSeconds?: number;
  /** Extra KV buckets a connection kind needs (each kind's issue defines its own). */
  extraBuckets?: string[];
}

/** Per-stream settings beyond the common ones (telemetry samples age out; the log does not). */
const STREAM_LIMITS: Record<string, { max_age?: number }> = {
  [STREAMS.telemetry]: { max_age: TELEMETRY_MAX_AGE_S * SECOND_NS },
};

export interface ProvisionResult {
  /** The replicas asked for new streams and buckets (existing ones may have more under 'auto'). */
  replicas: number;
}

/**
 * Creates streams CONN, COMMANDS and TELEMETRY and the projection buckets, or updates them
 * to the settings below when they exist already: safe to run at every start.
 */
export async function provision(nc: NatsConnection, options: ProvisionOptions = {}): Promise<ProvisionResult> {
  const jsm = await jetstreamManager(nc);
  const requested = options.replicas ?? 'auto';
  const replicas = requested === 'auto' ? replicasFor(clusterShapeOf(nc)) : requested;
  const replicasOf = (existing: number | undefined): number =>
    requested === 'auto' ? Math.max(existing ?? 0, replicas) : replicas;
  const duplicateWindow = (options.duplicateWindowSeconds ?? 600) * SECOND_NS;
  const streams: Array<[name: string, subjects: string[]]> = [
    [STREAMS.conn, ['conn.>']],
    [STREAMS.commands, ['commands.>']],
    [STREAMS.telemetry, ['telemetry.>']],
  ];
  for (const [name, subjects] of streams) {
    await ensureStream(jsm, replicasOf, {
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
    // An existing bucket is left as it is by create(); only its replicas are brought up to date.
    await kvm.create(bucket, { history: 1, replicas, storage: StorageType.File });
    const stream = `KV_${bucket}`;
    const info = await jsm.streams.info(stream);
    const wanted = replicasOf(info.config.num_replicas);
    if (info.config.num_replicas !== wanted) {
      await withContext(`bucket ${bucket}`, wanted, () => jsm.streams.update(stream, { ...info.config, num_replicas: wanted }));
    }
  }
  return { replicas };
}

type StreamSpec = Parameters<JetStreamManager['streams']['add']>[0] & { name: string; num_replicas: number };

async function ensureStream(jsm: JetStreamManager, replicasOf: (existing: number | undefined) => number, spec: StreamSpec): Promise<void> {
  let existing: number | undefined;
  try {
    existing = (await jsm.streams.info(spec.name)).config.num_replicas;
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    const wanted = replicasOf(undefined);
    await withContext(`stream ${spec.name}`, wanted, () => jsm.streams.add({ ...spec, num_replicas: wanted }));
    return;
  }
  const wanted = replicasOf(existing);
  await withContext(`stream ${spec.name}`, wanted, () => jsm.streams.update(spec.name, { ...spec, num_replicas: wanted }));
}

/** A placement JetStream refuses (too few servers up for the replicas) says which asset and how many. */
async function withContext<T>(what: string, replicas: number, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (!(err instanceof JetStreamApiError)) throw err;
    throw new Error(`provisioning ${what} with ${replicas} replica(s) failed: ${err.message}`, { cause: err });
  }
}
