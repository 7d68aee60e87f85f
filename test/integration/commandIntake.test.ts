import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimDevice, type SimDeviceOptions } from '../../infra/device-sim/index.ts';
import { subjects } from '../../services/bus/subjects.ts';
import { encodeToken } from '../../services/bus/tokens.ts';
import { WAIT_MS, closeAll, waitForFlow, waitForListed, wsConnect, type WsClient } from '../support/integration.ts';
import { getJson, postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/** The NATS request intake, the /ws push, /api/actors and /metrics, against a real system. */

let sys: TestSystem;
const devices: SimDevice[] = [];
const wsClients: WsClient[] = [];

async function connect(options: Omit<SimDeviceOptions, 'host' | 'port'>): Promise<SimDevice> {
  const device = await connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, ...options });
  devices.push(device);
  await waitForListed(sys, device.id);
  return device;
}

/** The `cmd.device.<token>` request: `{status, body}` exactly as the hub replies. */
async function natsCommand(deviceId: string, body: unknown): Promise<{ status: number; body: any }> {
  const data = typeof body === 'string' ? body : JSON.stringify(body);
  const msg = await sys.admin.nc.request(subjects.commandRequest(deviceId), data, { timeout: 5_000 });
  return msg.json();
}

beforeAll(async () => {
  sys = await startTestSystem();
});

afterAll(async () => {
  for (const c of wsClients) await c.close();
  await closeAll(devices);
  await sys?.stop();
});

describe('NATS command intake (cmd.device.<token>)', () => {
  it('accepts a command with the same 202 body as HTTP, and the command runs to completed', async () => {
    const device = await connect({ name: 'nats-intake' });
    const viaNats = await natsCommand(device.id, { node_id: 'ni-nats', command: 'run', params: { n: 1 } });
    const viaHttp = await postCommand(sys, device.id, { node_id: 'ni-http', command: 'run' });
    expect(viaNats.status).toBe(202);
    expect(viaHttp.status).toBe(202);
    expect(viaNats.body).toEqual({ command_id: expect.stringMatching(/^c-/), node_id: 'ni-nats', status: 'started' });
    expect(Object.keys(viaNats.body).sort()).toEqual(Object.keys(viaHttp.body).sort());
    expect(viaNats.body.command_id).not.toBe(viaHttp.body.command_id);

    const flow = await waitForFlow(sys, 'ni-nats', 'completed');
    expect(flow).toMatchObject({ command_id: viaNats.body.command_id, device_id: device.id });
    await waitForFlow(sys, 'ni-http', 'completed');
    expect(device.commands.map((c) => [c.id, c.params])).toEqual([
      [viaNats.body.command_id, { n: 1 }],
      [viaHttp.body.command_id, {}],
    ]);
  });

  it('gives the same errors as HTTP: 404 DEVICE_NOT_CONNECTED, 400 INVALID_COMMAND, 400 INVALID_INSTANCE', async () => {
    const device = await connect({ name: 'nats-errors', nodes: 2 });
    const cases: Array<[string, unknown, number, string]> = [
      ['127.0.0.1:absent', { node_id: 'ne-1', command: 'run' }, 404, 'DEVICE_NOT_CONNECTED'],
      [device.id, { command: 'run' }, 400, 'INVALID_COMMAND'],
      [device.id, { node_id: 'ne-2', command: 'run', extra: true }, 400, 'INVALID_COMMAND'],
      [device.id, { node_id: 'ne-3', command: 'run', instance: 3 }, 400, 'INVALID_INSTANCE'],
    ];
    for (const [deviceId, body, status, code] of cases) {
      const viaNats = await natsCommand(deviceId, body);
      const viaHttp = await postCommand(sys, deviceId, body);
      expect(viaNats, JSON.stringify(body)).toEqual({ status, body: { error: { code, message: expect.any(String) } } });
      expect(viaHttp).toEqual(viaNats);
    }
    for (const nodeId of ['ne-1', 'ne-2', 'ne-3']) expect((await getJson(sys, `/api/flows/${nodeId}`)).status).toBe(404);
    expect(device.commands).toHaveLength(0);
  });
});

describe('WebSocket /ws', () => {
  it('pushes a flow as it goes started → in progress → completed, and a device leaving as value null', async () => {
    const client = await wsConnect(sys);
    wsClients.push(client);
    const device = await connect({ name: 'ws-watched', resultDelayMs: 300 });
    const deviceKey = encodeToken(device.id);
    await client.next((f) => f.type === 'device' && f.key === deviceKey && f.value !== null);

    const res = await postCommand(sys, device.id, { node_id: 'ws-flow', command: 'run' });
    expect(res.status).toBe(202);
    const flowKey = encodeToken('ws-flow');
    await client.next((f) => f.type === 'flow' && f.key === flowKey && f.value?.status === 'completed');
    const statuses = client.frames.filter((f) => f.type === 'flow' && f.key === flowKey).map((f) => f.value.status);
    expect(statuses, JSON.stringify(client.frames.filter((f) => f.type === 'flow' && f.key === flowKey))).toEqual(['started', 'in progress', 'completed']);
    const completed = client.frames.find((f) => f.type === 'flow' && f.key === flowKey && f.value.status === 'completed');
    expect(completed.value).toMatchObject({ node_id: 'ws-flow', command_id: res.body.command_id, device_id: device.id });

    const from = client.frames.length;
    await device.close();
    const gone = await client.next((f) => f.type === 'device' && f.key === deviceKey, from);
    expect(gone).toEqual({ type: 'device', key: deviceKey, value: null });
  });
});

describe('GET /api/actors', () => {
  it('lists the device actor with state, since and seq, and after a failure its error code', async () => {
    const device = await connect({ name: 'actor-listed', behavior: 'no-result' });
    const res = await postCommand(sys, device.id, { node_id: 'actor-n1', command: 'run' });
    expect(res.status).toBe(202);
    await waitForFlow(sys, 'actor-n1', 'in progress');
    const busy = await waitFor(async () => {
      const actors = (await getJson(sys, '/api/actors')).body as any[];
      return actors.find((a) => a.kind === 'device' && a.id === device.id && a.state === 'busy');
    }, WAIT_MS, 'actor busy');
    expect(busy).toEqual({ kind: 'device', id: device.id, state: 'busy', since: expect.any(String), seq: expect.any(Number) });
    expect(Number.isNaN(Date.parse(busy.since))).toBe(false);
    expect(busy.seq).toBe(sys.recordsOf(device.id).find((r) => r.to === 'busy')!.seq);

    device.crash();
    const failed = await waitFor(async () => {
      const actors = (await getJson(sys, '/api/actors')).body as any[];
      return actors.find((a) => a.kind === 'device' && a.id === device.id && a.state === 'failed');
    }, WAIT_MS, 'actor failed');
    const last = sys.recordsOf(device.id).at(-1)!;
    expect(failed).toMatchObject({ state: 'failed', seq: last.seq, since: last.at, error: { code: 'SOCKET_RESET', message: expect.any(String) } });
    expect(Date.parse(failed.since)).toBeGreaterThanOrEqual(Date.parse(busy.since));
  });
});

describe('GET /metrics', () => {
  it('answers Prometheus text with the outbox counters', async () => {
    const res = await fetch(`${sys.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE lifeline_outbox_published gauge$/m);
    const published = text.match(/^lifeline_outbox_published\{service="device-gateway"\} (\d+)$/m);
    expect(published, text.slice(0, 500)).not.toBeNull();
    expect(Number(published![1])).toBeGreaterThan(0);
  });
});
