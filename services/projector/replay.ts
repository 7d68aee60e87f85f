import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS, STREAMS } from '../bus/subjects.ts';
import { componentLogger, type Logger } from '../log/logger.ts';
import { createKvBackend, createMemoryBackend, type ProjectionBackend } from './backend.ts';
import { projectMessage } from './projectMessage.ts';
import { createProjectionStore } from './projectionStore.ts';
import type { Effect } from './effects.ts';

export const PROJECTION_BUCKETS = [BUCKETS.devices, BUCKETS.deviceState, BUCKETS.flows, BUCKETS.actors, BUCKETS.meshNodes, BUCKETS.children, BUCKETS.sessions, BUCKETS.rpcCache, BUCKETS.deviceEnds];

export type ProjectionDump = Record<string, Record<string, unknown>>;

export interface ReplayProgress {
  stream: string;
  done: number;
  total: number;
}

/** Feeds every message of CONN, then of COMMANDS, then of TELEMETRY, through the reducers into `backend`. */
async function replayInto(nc: NatsConnection, backend: ProjectionBackend, onProgress?: (p: ReplayProgress) => void): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const store = createProjectionStore(backend);
  let count = 0;
  for (const stream of [STREAMS.conn, STREAMS.commands, STREAMS.telemetry]) {
    const info = await jsm.streams.info(stream);
    const last = info.state.last_seq;
    if (info.state.messages === 0) continue;
    const consumer = await js.consumers.get(stream);
    const messages = await consumer.consume({ max_messages: 2_000 });
    let effects: Effect[] = [];
    let done = 0;
    for await (const msg of messages) {
      const projected = projectMessage(msg.subject, msg.data);
      if (projected.ok) effects.push(...projected.effects);
      done += 1;
      if (effects.length >= 5_000 || msg.seq >= last) {
        await store.apply(effects);
        effects = [];
        onProgress?.({ stream, done, total: info.state.messages });
      }
      if (msg.seq >= last) break;
    }
    await messages.close();
    count += done;
  }
  return count;
}

/** Rebuilds every projection in memory from the log (nothing in NATS is changed). */
export async function replayToMemory(nc: NatsConnection): Promise<ProjectionDump> {
  const backend = createMemoryBackend();
  await replayInto(nc, backend);
  const dump = backend.dump();
  for (const bucket of PROJECTION_BUCKETS) dump[bucket] ??= {};
  return dump;
}

/** The current content of every projection bucket, in the same shape as replayToMemory. */
export async function dumpProjections(nc: NatsConnection): Promise<ProjectionDump> {
  const backend = createKvBackend(nc);
  const dump: ProjectionDump = {};
  for (const bucket of PROJECTION_BUCKETS) {
    dump[bucket] = {};
    for (const key of await backend.keys(bucket)) {
      const { value } = await backend.load(bucket, key);
      if (value !== null) dump[bucket]![key] = value;
    }
  }
  return dump;
}

/**
 * `lifeline replay`: wipes the projection buckets and rebuilds them from the log. A
 * projector running meanwhile stays correct: its writes are versioned or merged.
 */
export async function replayProjections(
  nc: NatsConnection,
  options: { logger?: Logger; onProgress?: (p: ReplayProgress) => void } = {},
): Promise<{ messages: number }> {
  const log = options.logger ?? componentLogger('replay');
  const kvm = new Kvm(nc);
  for (const bucket of PROJECTION_BUCKETS) {
    const kv = await kvm.open(bucket);
    const status = await kv.status();
    await kv.destroy();
    await kvm.create(bucket, { history: 1, replicas: status.replicas });
    log.info({ bucket }, 'projection wiped');
  }
  const messages = await replayInto(nc, createKvBackend(nc), options.onProgress);
  log.info({ messages }, 'projections rebuilt from the log');
  return { messages };
}
