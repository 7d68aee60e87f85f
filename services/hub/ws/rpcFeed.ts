import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { broadcastSchema } from '../../bus/schemas/projections.ts';
import { parseJsonWith } from '../../bus/schemas/parse.ts';
import { rpcResultEntrySchema, rpcStatusEntrySchema, type RpcResultEntry, type RpcStatusEntry } from '../../bus/schemas/rpc.ts';
import { BUCKETS, subjects } from '../../bus/subjects.ts';
import type { Logger } from '../../log/logger.ts';
import { mirrorBucket } from '../bucketMirror.ts';
import type { ClientHandle, ClientHub } from './clientHub.ts';

/** What a dashboard receives for a method: `{type, poller, method, data, is_stale, cached_at?, error?}`. */
export type DataMessage = { type: string; poller: string; method: string; data: unknown; is_stale: boolean; cached_at?: string; error?: { code: string; message: string }; no_data?: true };

type CacheEntry = { status: RpcStatusEntry } | { result: RpcResultEntry };

function parseEntry(value: unknown): CacheEntry | undefined {
  const status = rpcStatusEntrySchema.safeParse(value);
  if (status.success) return { status: status.data };
  const result = rpcResultEntrySchema.safeParse(value);
  return result.success ? { result: result.data } : undefined;
}

export const RPC_TOPICS = ['system_status', 'storage_update', 'agent_status', 'compression_update', 'notification', 'rpc_error'] as const;

/**
 * The RPC pollers' projection (`rpc_cache`, kept by the projector from `rpc` records) as
 * typed messages: each new result as its data message (stale unless the circuit is closed),
 * each failed call as `rpc_error` RPC_FAILURE, the circuit opening as `rpc_error`
 * CIRCUIT_OPEN followed by every cached result marked stale with RPC_UNAVAILABLE (or an
 * explicit "no data yet"), its closing as `notification` RPC_RECOVERED. A client gets the
 * current data when it connects.
 */
export function createRpcFeed(nc: NatsConnection, clients: ClientHub, log: Logger) {
  const mirror = mirrorBucket(nc, BUCKETS.rpcCache, parseEntry, log);
  /** The status last acted on, per poller (the mirror may be ahead of the broadcasts). */
  const seen = new Map<string, RpcStatusEntry>();

  const statusOf = (poller: string): RpcStatusEntry | undefined =>
    seen.get(poller) ?? mirror.values().flatMap((e) => ('status' in e && e.status.poller === poller ? [e.status] : []))[0];
  const resultOf = (poller: string, method: string): RpcResultEntry | undefined =>
    mirror.values().flatMap((e) => ('result' in e && e.result.poller === poller && e.result.method === method ? [e.result] : []))[0];

  function unavailable(status: RpcStatusEntry): { code: string; message: string } {
    const why = status.error?.message ?? status.last_failure?.message ?? 'the backend is not answering';
    return { code: 'RPC_UNAVAILABLE', message: `${status.poller} is unavailable (circuit ${status.circuit}): ${why}` };
  }

  function dataMessage(status: RpcStatusEntry | undefined, result: RpcResultEntry | undefined, method: { method: string; message: string }, poller: string): DataMessage {
    const stale = !status || status.circuit !== 'closed';
    const base = { type: method.message, poller, method: method.method, is_stale: stale || !result };
    if (!result) {
      const error = status && status.circuit !== 'closed' ? unavailable(status) : { code: 'RPC_NO_DATA', message: `no data yet from ${poller}.${method.method}` };
      return { ...base, data: null, no_data: true, error };
    }
    return { ...base, data: result.data, cached_at: result.cached_at, ...(stale && status ? { error: unavailable(status) } : {}) };
  }

  /** Every method of a poller, as it stands, to one client or to every subscriber. */
  function sendAll(status: RpcStatusEntry, to?: ClientHandle): void {
    for (const m of status.methods) {
      const msg = dataMessage(status, resultOf(status.poller, m.method), m, status.poller);
      if (to) {
        if (to.topics().has(msg.type)) to.send(msg);
      } else clients.broadcast(msg.type, msg);
    }
  }

  function onStatus(next: RpcStatusEntry): void {
    const prev = seen.get(next.poller);
    if (prev && (prev.incarnation > next.incarnation || (prev.incarnation === next.incarnation && next.seq <= prev.seq))) return; // older or repeated
    seen.set(next.poller, next);
    if (next.failures > (prev?.failures ?? 0) && next.last_failure && prev) {
      clients.broadcast('rpc_error', { type: 'rpc_error', code: 'RPC_FAILURE', poller: next.poller, message: next.last_failure.message, error: next.last_failure });
    }
    if (prev?.circuit === next.circuit) return;
    if (next.circuit === 'open' && next.error) {
      clients.broadcast('rpc_error', { type: 'rpc_error', code: 'CIRCUIT_OPEN', poller: next.poller, message: next.error.message, error: next.error });
      sendAll(next);
    } else if (next.circuit === 'closed' && prev && prev.circuit !== 'closed') {
      clients.broadcast('notification', { type: 'notification', code: 'RPC_RECOVERED', poller: next.poller, message: `${next.poller} answers again; data is fresh`, at: next.updated_at });
      sendAll(next);
    }
  }

  function onChange(key: string, value: unknown): void {
    if (value === null) return;
    const entry = parseEntry(value);
    if (!entry) return log.warn({ key }, 'rpc_cache entry ignored: it does not parse');
    mirror.set(key, entry);
    if ('status' in entry) return onStatus(entry.status);
    const status = statusOf(entry.result.poller);
    const method = { method: entry.result.method, message: entry.result.message };
    const data = dataMessage(status, entry.result, method, entry.result.poller);
    clients.broadcast(data.type, data);
  }

  const sub: Subscription = nc.subscribe(subjects.broadcast('rpc'), {
    callback: (err, msg) => {
      if (err) return log.error({ err }, 'rpc broadcast subscription failed');
      const parsed = parseJsonWith(broadcastSchema, 'broadcast', msg.data);
      if (!parsed.ok) return;
      for (const change of parsed.value.changes) onChange(change.key, change.value);
    },
  });

  return {
    /** The current data of every poller to a client that just connected. */
    greet(client: ClientHandle): void {
      for (const e of mirror.values()) if ('status' in e) sendAll(statusOf(e.status.poller) ?? e.status, client);
    },
    circuits(): Record<string, string> {
      const out: Record<string, string> = {};
      for (const e of mirror.values()) if ('status' in e) out[e.status.poller] = (statusOf(e.status.poller) ?? e.status).circuit;
      return out;
    },
    stop(): void {
      sub.unsubscribe();
      mirror.stop();
    },
  };
}
