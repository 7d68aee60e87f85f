import { acceptedCommandSchema, rejectedCommandSchema } from '../bus/schemas/commands.ts';
import { parseJsonWith } from '../bus/schemas/parse.ts';
import { transitionRecordSchema, type TransitionRecord } from '../bus/schemas/transitionRecord.ts';
import type { Effect } from './effects.ts';
import { projectActorRecord } from './reducers/actorRecord.ts';
import { projectAcceptedCommand, projectRejectedCommand } from './reducers/commandMessage.ts';
import { projectChildRecord } from './reducers/childRecord.ts';
import { projectDeviceRecord } from './reducers/deviceRecord.ts';
import { projectLinkRecord } from './reducers/linkRecord.ts';

export type Projected = { ok: true; effects: Effect[]; record?: TransitionRecord } | { ok: false; error: string };

/** Per kind, the reducer beyond the generic `actors` entry. */
const kindReducers: Partial<Record<TransitionRecord['kind'], (r: TransitionRecord) => Projected>> = {
  device: projectDeviceRecord,
  child: projectChildRecord,
  link: projectLinkRecord,
};

/** One message of the log (stream CONN or COMMANDS) → the effects it has on projections. */
export function projectMessage(subject: string, data: Uint8Array): Projected {
  if (subject.startsWith('conn.')) {
    const parsed = parseJsonWith(transitionRecordSchema, 'transition record', data);
    if (!parsed.ok) return { ok: false, error: parsed.error.message };
    const record = parsed.value;
    const effects: Effect[] = [projectActorRecord(record)];
    const specific = kindReducers[record.kind]?.(record);
    if (specific && !specific.ok) return { ok: false, error: `${record.kind} record ${record.seq}: ${specific.error}` };
    if (specific) effects.push(...specific.effects);
    return { ok: true, effects, record };
  }
  if (subject.startsWith('commands.device.')) {
    const parsed = parseJsonWith(acceptedCommandSchema, 'accepted command', data);
    return parsed.ok ? { ok: true, effects: [projectAcceptedCommand(parsed.value)] } : { ok: false, error: parsed.error.message };
  }
  if (subject.startsWith('commands.rejected.')) {
    const parsed = parseJsonWith(rejectedCommandSchema, 'rejected command', data);
    return parsed.ok ? { ok: true, effects: [projectRejectedCommand(parsed.value)] } : { ok: false, error: parsed.error.message };
  }
  return { ok: true, effects: [] };
}
