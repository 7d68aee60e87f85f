import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimDevice, type SimDeviceOptions } from '../../infra/device-sim/index.ts';
import { subjects } from '../../services/bus/subjects.ts';
import { WAIT_MS, closeAll, rawConnect, waitForFlow, waitForListed, wsConnect, type RawClient, type WsClient } from '../support/integration.ts';
import { getJson, postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * Bad input on every boundary (HTTP, device TCP, WebSocket, NATS request): each gets a
 * typed error answer, and the process keeps serving everyone else.
 */

let sys: TestSystem;
let bystander: SimDevice;
let twoNodes: SimDevice;
const devices: SimDevice[] = [];
const sockets: RawClient[] = [];
const wsClients: WsClient[] = [];

const HANDSHAKE_CODES = ['INVALID_JSON', 'UNKNOWN_MESSAGE', 'LINE_TOO_LONG', 'HELLO_TIMEOUT'];

async function connect(options: Omit<SimDeviceOptions, 'host' | 'port'>): Promise<SimDevice> {
  const device = await connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, ...options });
  devices.push(device);
  await waitForListed(sys, device.id);
  return device;
}

async function post(path: string, body: string, contentType = 'application/json'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${sys.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, body: await res.json() };
}

/** Sends `bytes` on a fresh socket before any hello; resolves with what the gateway answered once it closed the socket. */
async function sendBeforeHello(bytes: string | Uint8Array): Promise<RawClient> {
  const client = await rawConnect(sys.devicePort);
  sockets.push(client);
  client.socket.write(bytes);
  await waitFor(() => client.isClosed(), WAIT_MS, 'the gateway closed the socket');
  return client;
}

function onlyErrorLine(client: RawClient): { type: string; code: string } {
  const lines = client.lines();
  expect(lines, client.received()).toHaveLength(1);
  return JSON.parse(lines[0]!);
}

beforeAll(async () => {
  sys = await startTestSystem({ helloTimeoutMs: 500 });
  bystander = await connect({ name: 'bystander' });
  twoNodes = await connect({ name: 'two-nodes', nodes: 2 });
});

afterAll(async () => {
  for (const c of wsClients) await c.close();
  for (const s of sockets) s.socket.destroy();
  await closeAll(devices);
  await sys?.stop();
});

describe('HTTP', () => {
  const commandsPath = () => `/api/devices/${encodeURIComponent(twoNodes.id)}/commands`;

  it('a body that is not JSON → 400 INVALID_JSON', async () => {
    const res = await postCommand(sys, twoNodes.id, '{"node_id": "x", oops');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'INVALID_JSON', message: expect.any(String) } });
    const empty = await post(commandsPath(), '');
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('INVALID_JSON');
  });

  it.each([
    ['missing node_id', { command: 'run' }, 'node_id'],
    ['missing command', { node_id: 'bad-1' }, 'command'],
    ['node_id of the wrong type', { node_id: 7, command: 'run' }, 'node_id'],
    ['params of the wrong type', { node_id: 'bad-2', command: 'run', params: 'fast' }, 'params'],
    ['instance of the wrong type', { node_id: 'bad-3', command: 'run', instance: '2' }, 'instance'],
    ['a fractional instance', { node_id: 'bad-4', command: 'run', instance: 1.5 }, 'instance'],
    ['instance 0', { node_id: 'bad-5', command: 'run', instance: 0 }, 'instance'],
    ['an extra field', { node_id: 'bad-6', command: 'run', priority: 'high' }, 'priority'],
    ['an empty node_id', { node_id: '', command: 'run' }, 'node_id'],
    ['an array', [], ''],
    ['null', null, ''],
  ])('%s → 400 INVALID_COMMAND naming the field', async (_what, body, field) => {
    const res = await postCommand(sys, twoNodes.id, JSON.stringify(body));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_COMMAND');
    expect(res.body.error.message).toContain(field);
  });

  it('an instance beyond the device’s nodes → 400 INVALID_INSTANCE', async () => {
    const res = await postCommand(sys, twoNodes.id, { node_id: 'bad-range', command: 'run', instance: 3 });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_INSTANCE');
    expect(res.body.error.message).toContain('3');
    expect((await getJson(sys, '/api/flows/bad-range')).status).toBe(404);
  });

  it('a body over 64 KiB → 413 with a JSON error', async () => {
    const res = await postCommand(sys, twoNodes.id, { node_id: 'huge', command: 'run', params: { blob: 'x'.repeat(70 * 1024) } });
    expect(res.status).toBe(413);
    expect(res.body.error).toEqual({ code: expect.any(String), message: expect.any(String) });
  });

  it('a body that is not JSON by content type → 415 with a JSON error', async () => {
    const res = await post(commandsPath(), 'node_id=x&command=run', 'application/x-www-form-urlencoded');
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('an unknown device → 404 DEVICE_NOT_CONNECTED, whatever its id looks like', async () => {
    for (const id of ['127.0.0.1:nobody', 'ünï/cøde ✓', 'a..b', 'a.b.*.>', '_41']) {
      const res = await postCommand(sys, id, { node_id: 'orphan', command: 'run' });
      expect(res.status, id).toBe(404);
      expect(res.body.error.code, id).toBe('DEVICE_NOT_CONNECTED');
    }
    const long = await postCommand(sys, `127.0.0.1:${'l'.repeat(200)}`, { node_id: 'orphan', command: 'run' });
    expect(long.status).toBe(404);
    expect(long.body.error.code).toBe('DEVICE_NOT_CONNECTED');
    const tooLong = await postCommand(sys, 'x'.repeat(600), { node_id: 'orphan', command: 'run' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body).toEqual({ error: { code: 'INVALID_DEVICE_ID', message: expect.any(String) } });
  });

  it('a device with a long name (128 characters) and a long node id are addressable', async () => {
    const device = await connect({ name: 'n'.repeat(128) });
    const nodeId = `node-${'z'.repeat(250)}`;
    const res = await postCommand(sys, device.id, { node_id: nodeId, command: 'run' });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const flow = await waitForFlow(sys, nodeId, 'completed');
    expect(flow.device_id).toBe(device.id);
  });

  it('a malformed URL → 400 with a JSON error', async () => {
    const res = await fetch(`${sys.httpUrl}/api/flows/%E0%A4%A`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  });

  it('an unknown flow → 404 FLOW_NOT_FOUND', async () => {
    const res = await getJson(sys, '/api/flows/never-seen');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('FLOW_NOT_FOUND');
  });

  it('an unknown route → 404 JSON', async () => {
    for (const [method, path] of [
      ['GET', '/api/nothing'],
      ['POST', '/api/devices'],
      ['DELETE', '/api/flows/x'],
    ] as const) {
      const res = await fetch(`${sys.httpUrl}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect((await res.json()).error.code).toBe('NOT_FOUND');
    }
  });
});

describe('device TCP before hello', () => {
  it('garbage bytes → INVALID_JSON, socket closed', async () => {
    const client = await sendBeforeHello('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(onlyErrorLine(client)).toMatchObject({ type: 'error', code: 'INVALID_JSON' });
  });

  it('a first line that is not a hello → UNKNOWN_MESSAGE', async () => {
    const ack = await sendBeforeHello('{"type":"ack","id":"c-1"}\n');
    expect(onlyErrorLine(ack)).toMatchObject({ type: 'error', code: 'UNKNOWN_MESSAGE' });
    const unknown = await sendBeforeHello('{"type":"howdy"}\n');
    expect(onlyErrorLine(unknown)).toMatchObject({ type: 'error', code: 'UNKNOWN_MESSAGE' });
    const badHello = await sendBeforeHello('{"type":"hello","device":"x","nodes":0}\n');
    expect(onlyErrorLine(badHello)).toMatchObject({ type: 'error', code: 'UNKNOWN_MESSAGE' });
  });

  it('an oversized line before hello → LINE_TOO_LONG', async () => {
    const client = await sendBeforeHello(`{"type":"hello","device":"${'x'.repeat(70_000)}"}\n`);
    expect(onlyErrorLine(client)).toMatchObject({ type: 'error', code: 'LINE_TOO_LONG' });
  });

  it('random bytes on fresh sockets: each gets one typed error and is closed; the gateway keeps running', async () => {
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x0a, 0x0d, 0x7b, 0x22));
    const samples = fc.sample(
      fc.array(byte, { minLength: 1, maxLength: 4096 }).map((a) => Uint8Array.from(a)),
      { numRuns: 40, seed: 20_240_601 },
    );
    const before = sys.gateway.gateway.registry.size();
    const clients = await Promise.all(samples.map((bytes) => sendBeforeHello(bytes)));
    for (const [i, client] of clients.entries()) {
      const answer = onlyErrorLine(client);
      expect(answer.type).toBe('error');
      expect(HANDSHAKE_CODES, `sample ${i}: ${Buffer.from(samples[i]!).toString('hex').slice(0, 80)}`).toContain(answer.code);
    }
    expect(sys.gateway.gateway.registry.size()).toBe(before);
    expect(sys.gateway.gateway.server.listening).toBe(true);
  });
});

describe('WebSocket /ws', () => {
  it('a non-JSON frame and an unknown message get INVALID_MESSAGE; the socket stays usable', async () => {
    const client = await wsConnect(sys);
    wsClients.push(client);
    for (const frame of ['not json at all', '{"type":"bogus"}', '{"type":"subscribe","topics":["nope"]}', '[]']) {
      const from = client.frames.length;
      client.ws.send(frame);
      const error = await client.next((f) => f.type === 'error', from);
      expect(error, frame).toMatchObject({ type: 'error', code: 'INVALID_MESSAGE', message: expect.any(String) });
    }
    const from = client.frames.length;
    client.ws.send(JSON.stringify({ type: 'ping' }));
    await client.next((f) => f.type === 'pong', from);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });
});

describe('NATS command request', () => {
  it('invalid JSON → {status:400} INVALID_JSON; a bad token → 400; an invalid command → 400 INVALID_COMMAND', async () => {
    const nc = sys.admin.nc;
    const bad = (await nc.request(subjects.commandRequest(twoNodes.id), 'not json {', { timeout: 5_000 })).json<any>();
    expect(bad).toEqual({ status: 400, body: { error: { code: 'INVALID_JSON', message: expect.any(String) } } });

    const badToken = (await nc.request('cmd.device.not_a_token', '{}', { timeout: 5_000 })).json<any>();
    expect(badToken.status).toBe(400);
    expect(badToken.body.error.code).toBe('INVALID_DEVICE_ID');

    const invalid = (await nc.request(subjects.commandRequest(twoNodes.id), JSON.stringify({ command: 'run' }), { timeout: 5_000 })).json<any>();
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('INVALID_COMMAND');
    expect(invalid.body.error.message).toContain('node_id');
  });
});

describe('after all that', () => {
  it('the system still serves everyone: a healthy device completes a command, /healthz is 200', async () => {
    const res = await postCommand(sys, bystander.id, { node_id: 'still-alive', command: 'run' });
    expect(res.status).toBe(202);
    await waitForFlow(sys, 'still-alive', 'completed');
    const late = await connect({ name: 'late-comer', nodes: 2 });
    const res2 = await postCommand(sys, late.id, { node_id: 'late-1', command: 'run', instance: 2 });
    expect(res2.status).toBe(202);
    await waitForFlow(sys, 'late-1', 'completed');
    expect(bystander.isOpen && twoNodes.isOpen).toBe(true);
    expect((await getJson(sys, '/healthz')).status).toBe(200);
  });
});
