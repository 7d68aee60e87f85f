import { acceptedCommandSchema, rejectedCommandSchema } from '../bus/schemas/commands.ts';
import { parseJsonWith } from '../bus/schemas/parse.ts';
import { transitionRecordSchema, type TransitionRecord } from '../bus/schemas/transitionRecord.ts';
import type { Effect } from './effects.ts';
import { projectActorRecord } from './reducers/actorRecord.ts';
import { projectAcceptedCommand, projectRejectedCommand } from './reducers/commandMessage.ts';
import { projectChildRecord } from './reducers/childRecord.ts';
import { projectDeviceRecord } from './reducers/deviceRecord.ts';
import { projectLinkRecord } from './reducers/linkRecord.ts';
import { projectRpcRecord } from './reducers/rpcRecord.ts';
import { projectTelemetryMessage, type Notice } from './reducers/telemetryMessage.ts';
import { projectTelemetryRecord } from './reducers/telemetryRecord.ts';

/** `notices` are published after the batch is written; `warning` is logged (the message is applied). */
export type Projected =
  | { ok: true; effects: Effect[]; record?: TransitionRecord; notices?: Notice[]; warning?: string }
  | { ok: false; error: string; notices?: Notice[] };

/** Per kind, the reducer beyond the generic `actors` entry. */
const kindReducers: Partial<Record<TransitionRecord['kind'], (r: TransitionRecord) => Projected>> = {
  device: projectDeviceRecord,
  child: projectChildRecord,
  link: projectLinkRecord,
  rpc: projectRpcRecord,
  telemetry: projectTelemetryRecord,
};

/** One message of the log (stream CONN, COMMANDS or TELEMETRY) → the effects it has on projections. */
export function projectMessage(subject: string, data: Uint8Array, now: number = Date.now()): Projected {
  if (subject.startsWith('conn.')) {
    const parsed = parseJsonWith(transitionRecordSchema, 'transition record', data);
    if (!parsed.ok) return { ok: false, error: parsed.error.message };
    const record = parsed.value;
    const effects: Effect[] = [projectActorRecord(record)];
    const specific = kindReducers[record.kind]?.(record);
    if (specific && !specific.ok) return { ok: false, error: `${record.kind} record ${record.seq}: ${specific.error}` };
    if (specific) effects.push(...specific.effects);
    const notices = specific && 'notices' in specific ? specific.notices : undefined;
    return { ok: true, effects, record, ...(notices ? { notices } : {}) };
  }
  if (subject.startsWith('commands.device.')) {
    const parsed = parseJsonWith(acceptedCommandSchema, 'accepted command', data);
    return parsed.ok ? { ok: true, effects: [projectAcceptedCommand(parsed.value)] } : { ok: false, error: parsed.error.message };
  }
  if (subject.startsWith('commands.rejected.')) {
    const parsed = parseJsonWith(rejectedCommandSchema, 'rejected command', data);
    return parsed.ok ? { ok: true, effects: [projectRejectedCommand(parsed.value)] } : { ok: false, error: parsed.error.message };
  }
  if (subject.startsWith('telemetry.')) return projectTelemetryMessage(subject, data, now);
  return { ok: true, effects: [] };
}
