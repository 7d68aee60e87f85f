import { describe, expect, it } from 'vitest';
import type { DeviceEntry } from '../../services/bus/schemas/projections.ts';
import type { TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { recordEndOfOrphanedDevices } from '../../services/device-gateway/orphanedDevices.ts';
import { createMemoryBackend } from '../../services/projector/backend.ts';
import { createProjectionStore } from '../../services/projector/projectionStore.ts';
import { projectMessage } from '../../services/projector/projectMessage.ts';

const DEVICE = '127.0.0.1:fenced';

function deviceRecord(incarnation: string, seq: number, to: string, status = 'idle'): TransitionRecord {
  return {
    v: 1,
    kind: 'device',
    id: DEVICE,
    incarnation,
    seq,
    at: `2026-11-22T10:00:0${seq}.000Z`,
    from: seq === 1 ? null : 'idle',
    to,
    event: 'x',
    context: {
      device_id: DEVICE,
      name: 'fenced',
      nodes: 1,
      remote: '127.0.0.1',
      gateway: 'gw-a',
      connected_at: '2026-11-22T10:00:00.000Z',
      pending: [],
      settled: [],
      instances: { '1': { status, config: {} } },
    },
  };
}

/** Projects records in order into a memory store, as the projector and a replay do. */
async function project(records: TransitionRecord[]) {
  const backend = createMemoryBackend();
  const store = createProjectionStore(backend);
  for (const r of records) {
    const projected = projectMessage(`conn.device.x.${r.to}`, new TextEncoder().encode(JSON.stringify(r)));
    if (!projected.ok) throw new Error(projected.error);
    await store.apply(projected.effects);
  }
  return backend.dump();
}

async function endRecordFor(device: DeviceEntry): Promise<TransitionRecord> {
  const out: TransitionRecord[] = [];
  await recordEndOfOrphanedDevices({
    backend: createMemoryBackend(),
    devices: [device],
    sink: { enqueue: (r) => out.push(r) },
    end: { code: 'GATEWAY_LEASE_EXPIRED', event: 'gateway.lease_expired', component: 'projector', message: () => 'gone' },
  });
  return out[0]!;
}

describe('device end records fence the incarnation they end', () => {
  it('a late record of the ended incarnation does not bring the device back; a new incarnation does', async () => {
    const old = 'aaaa-000001';
    const connected = await project([deviceRecord(old, 1, 'idle')]);
    const entry = Object.values(connected.devices!)[0] as DeviceEntry;
    const end = await endRecordFor(entry);
    expect(end.context.ends_incarnation).toBe(old);

    const afterLateRecord = await project([deviceRecord(old, 1, 'idle'), end, deviceRecord(old, 2, 'idle', 'busy')]);
    expect(afterLateRecord.devices ?? {}).toEqual({});
    expect(afterLateRecord.device_state ?? {}).toEqual({});
    expect(Object.values(afterLateRecord.device_ends!)).toEqual([{ device_id: DEVICE, incarnations: [old] }]);

    // a new connection of the device (any incarnation id, even one sorting before the end record's) is listed
    const back = await project([deviceRecord(old, 1, 'idle'), end, deviceRecord('0000-000002', 1, 'idle')]);
    expect(Object.values(back.devices!).map((d) => (d as DeviceEntry).incarnation)).toEqual(['0000-000002']);
  });

  it('an end record arriving after the device reconnected leaves the new incarnation alone', async () => {
    const old = 'aaaa-000001';
    const entry = Object.values((await project([deviceRecord(old, 1, 'idle')])).devices!)[0] as DeviceEntry;
    const end = await endRecordFor(entry);
    const dump = await project([deviceRecord(old, 1, 'idle'), deviceRecord('zzzz-000009', 1, 'idle'), end]);
    expect(Object.values(dump.devices!).map((d) => (d as DeviceEntry).incarnation)).toEqual(['zzzz-000009']);
    expect(Object.keys(dump.device_state!)).toHaveLength(1);
  });
});

describe('a late terminal record of an ended incarnation', () => {
  it('deletes nothing: the device, reconnected meanwhile under any incarnation id, stays listed', async () => {
    const old = 'mmmm-000001';
    const entry = Object.values((await project([deviceRecord(old, 1, 'idle')])).devices!)[0] as DeviceEntry;
    const end = await endRecordFor(entry);
    // a newer connection whose incarnation id sorts before the old one (another host's clock)
    const dump = await project([deviceRecord(old, 1, 'idle'), end, deviceRecord('aaaa-000002', 1, 'idle'), deviceRecord(old, 2, 'closed')]);
    expect(Object.values(dump.devices!).map((d) => (d as DeviceEntry).incarnation)).toEqual(['aaaa-000002']);
    expect(Object.keys(dump.device_state!)).toHaveLength(1);
  });
});
