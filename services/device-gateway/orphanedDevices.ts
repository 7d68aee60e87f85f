import { createErrorEvent } from '../../machines/lib/errorEvent.ts';
import { deviceEntrySchema, flowEntrySchema, type DeviceEntry, type FlowEntry } from '../bus/schemas/projections.ts';
import type { TransitionRecord } from '../bus/schemas/transitionRecord.ts';
import { BUCKETS } from '../bus/subjects.ts';
import type { ProjectionBackend } from '../projector/backend.ts';
import { newIncarnation } from '../runtime/incarnation.ts';
import type { RecordSink } from '../runtime/host.ts';

/** Why nobody but us can record these devices' end, in the record's words. */
export interface OrphanedEnd {
  code: 'GATEWAY_RESTARTED' | 'GATEWAY_LEASE_EXPIRED';
  /** The record's `event`: `gateway.recovered`, `gateway.lease_expired`. */
  event: string;
  /** Who writes the record: `device-gateway` or `projector`. */
  component: string;
  message(device: DeviceEntry): string;
}

/** The devices the `devices` projection lists under `gateway`. */
export async function devicesListedUnder(backend: ProjectionBackend, gateway: string): Promise<DeviceEntry[]> {
  const devices: DeviceEntry[] = [];
  for (const key of await backend.keys(BUCKETS.devices)) {
    const parsed = deviceEntrySchema.safeParse((await backend.load(BUCKETS.devices, key)).value);
    if (parsed.success && parsed.data.gateway === gateway) devices.push(parsed.data);
  }
  return devices;
}

/** The flows of `deviceIds` not yet completed or failed, by device. */
async function unfinishedFlowsOf(backend: ProjectionBackend, deviceIds: Set<string>): Promise<Map<string, FlowEntry[]>> {
  const unfinished = new Map<string, FlowEntry[]>();
  for (const key of await backend.keys(BUCKETS.flows)) {
    const parsed = flowEntrySchema.safeParse((await backend.load(BUCKETS.flows, key)).value);
    if (!parsed.success || !deviceIds.has(parsed.data.device_id)) continue;
    if (parsed.data.status === 'completed' || parsed.data.status === 'failed') continue;
    unfinished.set(parsed.data.device_id, [...(unfinished.get(parsed.data.device_id) ?? []), parsed.data]);
  }
  return unfinished;
}

/**
 * Records the end of devices whose actors died without recording it (their gateway
 * process died): for each, one record of a fresh incarnation, `→ failed` with `end.code`,
 * that settles every visible unfinished flow of the device as failed and names the
 * incarnation it ends (`ends_incarnation`), so the projector removes exactly that
 * incarnation's entries and ignores any later record of it. Shared by a restarting
 * gateway (GATEWAY_RESTARTED) and the projector when a gateway's lease expires
 * (GATEWAY_LEASE_EXPIRED). Returns the records handed to `sink`.
 */
export async function recordEndOfOrphanedDevices(options: {
  backend: ProjectionBackend;
  devices: DeviceEntry[];
  end: OrphanedEnd;
  sink: RecordSink;
  now?: () => number;
}): Promise<TransitionRecord[]> {
  const { devices, end } = options;
  if (devices.length === 0) return [];
  const unfinished = await unfinishedFlowsOf(options.backend, new Set(devices.map((d) => d.device_id)));
  const records: TransitionRecord[] = [];
  for (const device of devices) {
    const now = options.now?.() ?? Date.now();
    const error = createErrorEvent({
      code: end.code,
      message: end.message(device),
      component: end.component,
      retryable: true,
      at: now,
      details: { device_id: device.device_id, gateway: device.gateway, previous_incarnation: device.incarnation },
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
      event: end.event,
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
        ends_incarnation: device.incarnation,
      },
      error,
    };
    options.sink.enqueue(record);
    records.push(record);
  }
  return records;
}
