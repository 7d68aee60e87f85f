import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRpcBackend, type RpcBackend } from '../../infra/rpc-backend/index.ts';
import { parseJsonWith } from '../../services/bus/schemas/parse.ts';
import { transitionRecordSchema, type TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { startPollerServices, type PollerService } from '../../services/cli/services/rpcPollerServices.ts';
import { pollerSpecSchema } from '../../services/rpc-poller/pollerSpec.ts';
import { startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';
import { wsProbe, type WsProbe } from '../support/wsProbe.ts';

/**
 * The RPC poller and the hub's client actors end to end: a real JSON-RPC backend on HTTP,
 * a real nats-server, the projector writing rpc_cache, real `ws` clients.
 */
let sys: TestSystem;
let backend: RpcBackend;
let pollers: PollerService[];
const probes: WsProbe[] = [];
const rpcRecords: TransitionRecord[] = [];
const WAIT = 15_000;

async function probe(): Promise<WsProbe> {
  const p = await wsProbe(sys.httpUrl);
  probes.push(p);
  return p;
}

beforeAll(async () => {
  sys = await startTestSystem({ gateway: false, hubWs: { heartbeatIntervalMs: 300, maxQueueBytes: 256 * 1024, closeTimeoutMs: 2_000 } });
  sys.admin.nc.subscribe('conn.rpc.>', {
    callback: (_e, msg) => {
      const r = parseJsonWith(transitionRecordSchema, 'record', msg.data);
      if (r.ok) rpcRecords.push(r.value);
    },
  });
  backend = await startRpcBackend({ port: 0 });
  const spec = pollerSpecSchema.parse({
    name: 'backend',
    url: backend.url,
    intervalMs: 100,
    callTimeoutMs: 800,
    slowCallMs: 600,
    openDurationMs: 1_500,
    probeIntervalMs: 400,
    halfOpenProbes: 2,
  });
  pollers = await startPollerServices(sys.endpoint, [spec]);
});

afterAll(async () => {
  for (const p of probes) await p.close().catch(() => {});
  for (const p of pollers ?? []) await p.stop();
  await backend?.close();
  await sys?.stop();
});

describe('backend down and back', () => {
  it('opens after 3 failures; clients get stale cached data, the errors and heartbeats; then RPC_RECOVERED and fresh data', async () => {
    const client = await probe();
    const fresh = await client.next((f) => f.type === 'system_status' && f.is_stale === false && f.data?.hostname === 'rpc-backend', 0, WAIT);
    expect(fresh).toMatchObject({ poller: 'backend', method: 'system_status', cached_at: expect.any(String) });
    await client.next((f) => f.type === 'storage_update' && f.is_stale === false);
    await client.next((f) => f.type === 'agent_status' && f.is_stale === false);
    await client.next((f) => f.type === 'compression_update' && f.is_stale === false);

    const from = client.frames.length;
    const recordsFrom = rpcRecords.length;
    await backend.setFault({ mode: 'down' });
    const open = await client.next((f) => f.type === 'rpc_error' && f.code === 'CIRCUIT_OPEN', from, WAIT);
    expect(open.error).toMatchObject({ code: 'CIRCUIT_OPEN', details: { reason: 'consecutive_failures', consecutive_failures: 3 } });
    // exactly 3 failed calls, each announced as RPC_FAILURE, before the circuit opened
    const log = rpcRecords.slice(recordsFrom);
    const opening = log.findIndex((r) => r.to.startsWith('open'));
    const failedCalls = log.slice(0, opening + 1).filter((r) => (r.context as any).last_call?.ok === false);
    expect(failedCalls).toHaveLength(3);
    expect(failedCalls.map((r) => (r.context as any).last_call.code)).toEqual(['CONNECTION_REFUSED', 'CONNECTION_REFUSED', 'CONNECTION_REFUSED']);
    const failures = client.of('rpc_error', from).filter((f) => f.code === 'RPC_FAILURE');
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures[0].error).toMatchObject({ code: 'RPC_FAILURE', details: { method: expect.any(String), reason: 'connection refused' } });

    // cached data, marked stale, with RPC_UNAVAILABLE
    const stale = await client.next((f) => f.type === 'system_status' && f.is_stale === true, from);
    expect(stale).toMatchObject({ data: { hostname: 'rpc-backend' }, cached_at: fresh.cached_at >= stale.cached_at ? expect.any(String) : expect.any(String), error: { code: 'RPC_UNAVAILABLE' } });
    expect(Date.parse(stale.cached_at)).toBeGreaterThanOrEqual(Date.parse(fresh.cached_at));
    for (const type of ['storage_update', 'agent_status', 'compression_update']) {
      expect(client.of(type, from).some((f) => f.is_stale === true && f.error?.code === 'RPC_UNAVAILABLE'), type).toBe(true);
    }
    // heartbeats keep coming while the backend is down, with the client count and the circuit
    const beatsFrom = client.frames.length;
    await waitFor(() => client.of('heartbeat', beatsFrom).length >= 2, WAIT, 'two heartbeats while open');
    expect(client.of('heartbeat', beatsFrom)[0]).toMatchObject({ clients: expect.any(Number), circuits: { backend: 'open' } });
    const cache = await sys.kvEntries('rpc_cache');
    expect(cache['backend']).toMatchObject({ circuit: 'open', error: { code: 'CIRCUIT_OPEN' } });
    expect(cache['backend.system_5Fstatus']).toMatchObject({ method: 'system_status', data: { hostname: 'rpc-backend' } });

    const back = client.frames.length;
    await backend.setFault({ mode: 'healthy' });
    const recovered = await client.next((f) => f.type === 'notification' && f.code === 'RPC_RECOVERED', back, WAIT);
    expect(recovered.poller).toBe('backend');
    const after = client.frames.indexOf(recovered);
    const again = await client.next((f) => f.type === 'storage_update' && f.is_stale === false, after, WAIT);
    expect(again.error).toBeUndefined();
    expect(Date.parse(again.cached_at)).toBeGreaterThan(Date.parse(stale.cached_at));
    const metrics = await (await fetch(`${sys.httpUrl}/api/hub/metrics`)).json();
    expect(metrics).toMatchObject({ clients: expect.any(Number), circuits: { backend: 'closed' } });
    const prom = await (await fetch(`${sys.httpUrl}/metrics`)).text();
    expect(prom).toMatch(/^lifeline_rpc_circuit_state\{poller="backend"\} 0$/m);
    expect(prom).toMatch(/^lifeline_hub_slow_client_drops_total \d+$/m);
  });

  it('a client that connects while the backend never answered gets "no data yet", not nothing', async () => {
    // a second poller whose backend is down from the start
    const dead = await startRpcBackend({ port: 0, fault: { mode: 'down' } });
    const extra = await startPollerServices(sys.endpoint, [
      pollerSpecSchema.parse({ name: 'never', url: dead.url, methods: ['system_status'], intervalMs: 100, openDurationMs: 60_000 }),
    ]);
    try {
      const client = await probe();
      const none = await client.next((f) => f.type === 'system_status' && f.poller === 'never' && f.no_data === true, 0, WAIT);
      expect(none).toMatchObject({ data: null, is_stale: true, error: { code: expect.stringMatching(/^RPC_(UNAVAILABLE|NO_DATA)$/) } });
      const late = await probe(); // connects after the circuit opened: greeted with the same
      const greeted = await late.next((f) => f.type === 'system_status' && f.poller === 'never', 0, WAIT);
      expect(greeted).toMatchObject({ data: null, no_data: true, is_stale: true });
    } finally {
      for (const p of extra) await p.stop();
      await dead.close();
    }
  });
});

describe('slow client', () => {
  it('a client that stops reading gets SLOW_CLIENT and close 4008; the others receive every message and hear CLIENT_DISCONNECTED', async () => {
    const fast = [await probe(), await probe(), await probe()];
    const slow = await probe();
    const from = fast.map((f) => f.frames.length);
    slow.pause();
    backend.setPayloadBytes(120 * 1024);
    try {
      const drop = await waitFor(async () => {
        const m = await (await fetch(`${sys.httpUrl}/api/hub/metrics`)).json();
        return m.slow_client_drops >= 1 && m;
      }, 30_000, 'a slow-client drop');
      expect(drop.slow_client_drops).toBe(1);
    } finally {
      backend.setPayloadBytes(0);
    }
    slow.resume();
    await waitFor(() => slow.closed ?? undefined, WAIT, 'the slow client closed');
    expect(slow.closed!.code).toBe(4008);
    expect(slow.frames.find((f) => f.type === 'error' && f.code === 'SLOW_CLIENT')).toMatchObject({ message: 'buffer full, connection closing' });
    for (const f of fast) {
      const gone = await f.next((m) => m.type === 'connection_error' && m.code === 'CLIENT_DISCONNECTED' && m.client_id === slow.id);
      expect(gone.reason).toBe('SLOW_CLIENT');
      expect(f.closed).toBeNull();
    }
    // the fast clients got the same storage updates, none skipped
    const served = fast.map((f, i) => f.of('storage_update', from[i]).map((m) => m.data?.served));
    const common = Math.min(...served.map((s) => s.length)) - 2;
    expect(common).toBeGreaterThan(5);
    for (const s of served) expect(s.slice(0, common)).toEqual(served[0]!.slice(0, common));
  });
});

describe('graceful shutdown', () => {
  it('every client gets SERVER_SHUTDOWN, then the connection closes (1001); nothing hangs', async () => {
    const clients = [await probe(), await probe(), await probe()];
    const t0 = Date.now();
    await sys.hub.stop();
    expect(Date.now() - t0).toBeLessThan(5_000);
    for (const c of clients) {
      await waitFor(() => c.closed ?? undefined, 5_000, 'closed');
      expect(c.frames.at(-1)).toMatchObject({ type: 'notification', code: 'SERVER_SHUTDOWN', message: 'please reconnect after restart' });
      expect(c.closed!.code).toBe(1001);
    }
  });
});
