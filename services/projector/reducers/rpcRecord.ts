import { rpcContextSchema, type RpcResultEntry, type RpcStatusEntry } from '../../bus/schemas/rpc.ts';
import type { TransitionRecord } from '../../bus/schemas/transitionRecord.ts';
import { BUCKETS } from '../../bus/subjects.ts';
import { encodeToken } from '../../bus/tokens.ts';
import type { Effect } from '../effects.ts';

export const rpcStatusKey = (poller: string): string => encodeToken(poller);
export const rpcResultKey = (poller: string, method: string): string => `${encodeToken(poller)}.${encodeToken(method)}`;

/** The events that end a poll or trial call: only their records carry a new result. */
const CALL_DONE = /^xstate\.(done|error)\.actor\.(call|trial)$/;

/**
 * An RPC poller's record → its `rpc_cache` entries: the status entry (circuit, counters,
 * errors) on every record, and the method's result entry when the record is the end of
 * a call that brought data (a slow call's data too: late, not wrong). Both are versioned
 * puts; results are never deleted (they are the cache served while the backend is down).
 */
export function projectRpcRecord(record: TransitionRecord): { ok: true; effects: Effect[] } | { ok: false; error: string } {
  const parsed = rpcContextSchema.safeParse(record.context);
  if (!parsed.success) return { ok: false, error: parsed.error.message };
  const { last_call, ...ctx } = parsed.data;
  const version = { incarnation: record.incarnation, seq: record.seq };
  const status: RpcStatusEntry = { ...ctx, state: record.to, incarnation: record.incarnation, seq: record.seq, updated_at: record.at };
  const effects: Effect[] = [{ op: 'put', bucket: BUCKETS.rpcCache, key: rpcStatusKey(ctx.poller), value: status, version }];
  if (last_call && 'data' in last_call && CALL_DONE.test(record.event)) {
    const result: RpcResultEntry = {
      poller: ctx.poller,
      method: last_call.method,
      message: last_call.message,
      data: last_call.data,
      cached_at: last_call.at,
      duration_ms: last_call.duration_ms,
      incarnation: record.incarnation,
      seq: record.seq,
    };
    effects.push({ op: 'put', bucket: BUCKETS.rpcCache, key: rpcResultKey(ctx.poller, last_call.method), value: result, version });
  }
  return { ok: true, effects };
}
