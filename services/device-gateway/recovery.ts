import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createErrorEvent } from '../../machines/lib/errorEvent.ts';
import { deviceEntrySchema, flowEntrySchema, type DeviceEntry, type FlowEntry } from '../bus/schemas/projections.ts';
import type { TransitionRecord } from '../bus/schemas/transitionRecord.ts';
import { BUCKETS, STREAMS } from '../bus/subjects.ts';
import type { Logger } from '../log/logger.ts';
import { createKvBackend } from '../projector/backend.ts';
import { newIncarnation } from '../runtime/incarnation.ts';
import type { RecordSink } from '../runtime/host.ts';

export interface RecoveryOptions {
  nc: NatsConnection;
  gateway: string;
  sink: RecordSink;
  logger: Logger;
  /** How long to wait for the projector to catch up before reading projections. */
  catchUpTimeoutMs?: number;
}

/**
 * A gateway that died took its devices' actors with it, and nothing recorded their end.
 * At the next start, before accepting devices, the gateway records that end: for every
 * device the projections still list under its name, one record of a fresh incarnation,
 * `→ failed` with GATEWAY_RESTARTED, that settles every visible unfinished flow of that
 * device as failed. The projector then cleans up as for any failure.
 */
export async function recordOrphanedDevices(options: RecoveryOptions): Promise<number> {
  const { nc, logger } = options;
  await waitForProjectorCatchUp(nc, options.catchUpTimeoutMs ?? 5_000, logger);
  const backend = createKvBackend(nc);
  const orphans: DeviceEntry[] = [];
  for (const key of await backend.keys(BUCKETS.devices)) {
    const parsed = deviceEntrySchema.safeParse((await backend.load(BUCKETS.devices, key)).value);
    if (parsed.success && parsed.data.gateway === options.gateway) orphans.push(parsed.data);
  }
  if (orphans.length === 0) return 0;
  const unfinished = new Map<string, FlowEntry[]>();
  for (const key of await backend.keys(BUCKETS.flows)) {
    const parsed = flowEntrySchema.safeParse((await backend.load(BUCKETS.flows, key)).value);
    if (!parsed.success || parsed.data.status === 'completed' || parsed.data.status === 'failed') continue;
    const list = unfinished.get(parsed.data.device_id) ?? [];
    list.push(parsed.data);
    unfinished.set(parsed.data.device_id, list);
  }
  for (const device of orphans) {
    const now = Date.now();
    const error = createErrorEvent({
      code: 'GATEWAY_RESTARTED',
      message: `gateway ${options.gateway} stopped without closing ${device.device_id}; its connection was lost`,
      component: 'device-gateway',
      retryable: true,
      at: now,
      details: { device_id: device.device_id, previous_incarnation: device.incarnation },
    });
    const record: TransitionRecord = {
      v: 1,
      kind: 'device',
      id: device.device_id,
      incarnation: newIncarnation(now),
      seq: 1,
      at: new Date(now).toISOString(),
      from: null,
      to: 'failed',
      event: 'gateway.recovered',
      context: {
        device_id: device.device_id,
        name: device.name,
        nodes: device.nodes,
        remote: device.remote,
        gateway: device.gateway,
        connected_at: device.connected_at,
        pending: [],
        settled: (unfinished.get(device.device_id) ?? []).map((f) => ({
          command_id: f.command_id,
          node_id: f.node_id,
          instance: 0,
          accepted_at: f.accepted_at,
          status: 'failed' as const,
          error,
        })),
        instances: {},
      },
      error,
    };
    options.sink.enqueue(record);
  }
  logger.warn({ devices: orphans.length }, 'recorded the end of devices a previous run of this gateway left behind');
  return orphans.length;
}

async function waitForProjectorCatchUp(nc: NatsConnection, timeoutMs: number, logger: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const info = await jsm.consumers.info(STREAMS.conn, 'projector');
      if (info.num_pending === 0 && info.num_ack_pending === 0) return;
    } catch {
      return; // no projector consumer yet: nothing has been projected
    }
    if (Date.now() > deadline) {
      logger.warn('the projector is behind; recovering from the projections as they are');
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
