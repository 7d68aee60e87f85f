import { z } from 'zod';
import { errorEventSchema } from '../../bus/schemas/errorEvent.ts';
import type { DeviceEntry, DeviceStateEntry, FlowEntry } from '../../bus/schemas/projections.ts';
import type { TransitionRecord } from '../../bus/schemas/transitionRecord.ts';
import { BUCKETS } from '../../bus/subjects.ts';
import { encodeToken } from '../../bus/tokens.ts';
import type { Effect } from '../effects.ts';

/** The part of a device record's context the projector reads (machines/deviceSocket summary). */
const deviceContextSchema = z.object({
  device_id: z.string(),
  name: z.string(),
  nodes: z.number().int().min(1),
  remote: z.string(),
  gateway: z.string(),
  connected_at: z.string(),
  pending: z.array(
    z.object({
      command_id: z.string(),
      node_id: z.string(),
      status: z.enum(['started', 'in progress']),
      accepted_at: z.string(),
    }),
  ),
  settled: z.array(
    z.object({
      command_id: z.string(),
      node_id: z.string(),
      status: z.enum(['completed', 'failed']),
      accepted_at: z.string(),
      error: errorEventSchema.optional(),
    }),
  ),
  instances: z.record(z.string(), z.object({ status: z.string(), config: z.record(z.string(), z.unknown()), at: z.string().optional() })),
  /**
   * Set on an end record written for a device whose actor could not record its own end
   * (its gateway restarted, or its gateway's lease expired): the incarnation it ends.
   */
  ends_incarnation: z.string().optional(),
});

export const TERMINAL_DEVICE_STATES = new Set(['failed', 'closed']);

export function deviceKey(deviceId: string): string {
  return encodeToken(deviceId);
}

export function deviceStateKey(deviceId: string, instance: number): string {
  return `${encodeToken(deviceId)}.${instance}`;
}

export function flowKey(nodeId: string): string {
  return encodeToken(nodeId);
}


/**
 * A device's transition record → projections. The `devices` and `device_state` entries
 * hold only what changes with the connection or a status line (no seq, no state), so the
 * records of a command cycle rewrite neither; a device's state is in `actors`.
 *
 * A device's transition record → projections: its `devices` entry (deleted when the
 * device ends), its `device_state` per instance (deleted with it), and one flow per
 * pending or settled command. Terminal flows come from `settled`, which the machine
 * fills with every pending command, failed, when the device fails.
 */
export function projectDeviceRecord(record: TransitionRecord): { ok: true; effects: Effect[] } | { ok: false; error: string } {
  const parsed = deviceContextSchema.safeParse(record.context);
  if (!parsed.success) return { ok: false, error: parsed.error.message };
  const ctx = parsed.data;
  const effects: Effect[] = [];
  const version = { incarnation: record.incarnation, seq: record.seq };
  const ended = TERMINAL_DEVICE_STATES.has(record.to.split('.')[0] ?? '');

  for (const p of ctx.pending) {
    effects.push(flow({ ...p, device_id: ctx.device_id, updated_at: record.at }));
  }
  for (const s of ctx.settled) {
    const entry: FlowEntry = {
      node_id: s.node_id,
      command_id: s.command_id,
      device_id: ctx.device_id,
      status: s.status,
      accepted_at: s.accepted_at,
      updated_at: record.at,
    };
    if (s.error) entry.error = s.error;
    effects.push(flow(entry));
  }

  if (ctx.ends_incarnation !== undefined) {
    // the ended incarnation's entries go, and any later record of it is fenced off (a
    // partitioned gateway's actor must not bring the device back); a newer one stays
    const only = ctx.ends_incarnation;
    effects.push({ op: 'endIncarnation', bucket: BUCKETS.deviceEnds, key: deviceKey(ctx.device_id), id: ctx.device_id, incarnation: only });
    effects.push({ op: 'delete', bucket: BUCKETS.devices, key: deviceKey(ctx.device_id), version, onlyIncarnation: only });
    for (let instance = 1; instance <= ctx.nodes; instance++) {
      effects.push({ op: 'delete', bucket: BUCKETS.deviceState, key: deviceStateKey(ctx.device_id, instance), version, onlyIncarnation: only });
    }
    return { ok: true, effects };
  }

  const fence = { bucket: BUCKETS.deviceEnds, key: deviceKey(ctx.device_id) };
  if (ended) {
    effects.push({ op: 'delete', bucket: BUCKETS.devices, key: deviceKey(ctx.device_id), version, fence });
    for (let instance = 1; instance <= ctx.nodes; instance++) {
      effects.push({ op: 'delete', bucket: BUCKETS.deviceState, key: deviceStateKey(ctx.device_id, instance), version, fence });
    }
    return { ok: true, effects };
  }

  const device: DeviceEntry = {
    device_id: ctx.device_id,
    name: ctx.name,
    nodes: ctx.nodes,
    remote: ctx.remote,
    gateway: ctx.gateway,
    incarnation: record.incarnation,
    connected_at: ctx.connected_at,
  };
  effects.push({ op: 'put', bucket: BUCKETS.devices, key: deviceKey(ctx.device_id), value: device, version, fence });
  for (const [instanceText, state] of Object.entries(ctx.instances)) {
    const instance = Number(instanceText);
    const value: DeviceStateEntry = {
      device_id: ctx.device_id,
      instance,
      incarnation: record.incarnation,
      status: state.status,
      current_config: state.config,
      updated_at: state.at ?? ctx.connected_at,
    };
    effects.push({ op: 'put', bucket: BUCKETS.deviceState, key: deviceStateKey(ctx.device_id, instance), value, version, fence });
  }
  return { ok: true, effects };
}

function flow(entry: FlowEntry): Effect {
  return { op: 'mergeFlow', bucket: BUCKETS.flows, key: flowKey(entry.node_id), value: entry };
}
