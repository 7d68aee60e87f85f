import type { AcceptedCommand, RejectedCommand } from '../../bus/schemas/commands.ts';
import type { FlowEntry } from '../../bus/schemas/projections.ts';
import { BUCKETS } from '../../bus/subjects.ts';
import type { Effect } from '../effects.ts';
import { flowKey } from './deviceRecord.ts';

/** The flow entry an accepted command starts with; the hub writes the same one at intake. */
export function startedFlow(command: AcceptedCommand): FlowEntry {
  return {
    node_id: command.node_id,
    command_id: command.command_id,
    device_id: command.device_id,
    status: 'started',
    accepted_at: command.accepted_at,
    updated_at: command.accepted_at,
  };
}

export function projectAcceptedCommand(command: AcceptedCommand): Effect {
  return { op: 'mergeFlow', bucket: BUCKETS.flows, key: flowKey(command.node_id), value: startedFlow(command) };
}

export function projectRejectedCommand(rejection: RejectedCommand): Effect {
  const value: FlowEntry = {
    node_id: rejection.node_id,
    command_id: rejection.command_id,
    device_id: rejection.device_id,
    status: 'failed',
    accepted_at: rejection.accepted_at,
    updated_at: rejection.error.timestamp,
    error: rejection.error,
  };
  return { op: 'mergeFlow', bucket: BUCKETS.flows, key: flowKey(rejection.node_id), value };
}
