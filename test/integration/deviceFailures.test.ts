import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimDevice, type SimDeviceOptions } from '../../infra/device-sim/index.ts';
import { encodeToken } from '../../services/bus/tokens.ts';
import {
  WAIT_MS,
  closeAll,
  expectDeviceFailed,
  expectGapFree,
  lastRecord,
  listedDeviceIds,
  rawConnect,
  waitForDeviceStateKeys,
  waitForFlow,
  waitForListed,
  waitForPending,
  type RawClient,
} from '../support/integration.ts';
import { getJson, postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * The failure scenarios of the device socket, end to end: real nats-server, real gateway,
 * projector and hub, simulated devices on real TCP sockets. Two systems: one with the
 * default timings, one with short timers (heartbeat/silence, ack, result, hello).
 */

let sys: TestSystem;
/** Short timers: pulled cable (SILENT), NO_ACK, RESULT_TIMEOUT, HELLO_TIMEOUT. */
let fast: TestSystem;
const devices: SimDevice[] = [];
const sockets: RawClient[] = [];

async function connect(system: TestSystem, options: Omit<SimDeviceOptions, 'host' | 'port'>): Promise<SimDevice> {
  const device = await connectSimDevice({ host: '127.0.0.1', port: system.devicePort, ...options });
  devices.push(device);
  return device;
}

/** A connected device whose `status` lines created a device_state key per instance. */
async function connectWithState(system: TestSystem, options: Omit<SimDeviceOptions, 'host' | 'port'>) {
  const device = await connect(system, { ...options, sendStatusOnConnect: true });
  await waitForListed(system, device.id);
  const stateKeys = await waitForDeviceStateKeys(system, device.id, options.nodes ?? 1);
  return { device, deviceId: device.id, stateKeys };
}

async function accept(system: TestSystem, deviceId: string, body: Record<string, unknown>): Promise<string> {
  const res = await postCommand(system, deviceId, { command: 'run', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.body).toMatchObject({ node_id: body.node_id, status: 'started' });
  return res.body.command_id as string;
}

beforeAll(async () => {
  [sys, fast] = await Promise.all([
    startTestSystem(),
    startTestSystem({
      timing: { heartbeatIntervalMs: 200, silentTimeoutMs: 800, ackTimeoutMs: 300, resultTimeoutMs: 2_000 },
      helloTimeoutMs: 300,
    }),
  ]);
});

afterAll(async () => {
  await closeAll(devices);
  for (const s of sockets) s.socket.destroy();
  await Promise.all([sys?.stop(), fast?.stop()]);
});

describe('crash during execution', () => {
  it('RST while busy: flow failed SOCKET_RESET, KV cleaned, records end busy → failed', async () => {
    const { device, deviceId, stateKeys } = await connectWithState(sys, { name: 'crash-busy', behavior: 'no-result' });
    await accept(sys, deviceId, { node_id: 'crash-busy-n1' });
    await waitForFlow(sys, 'crash-busy-n1', 'in progress');
    device.crash();
    await expectDeviceFailed(sys, { deviceId, stateKeys, nodeIds: ['crash-busy-n1'], from: 'busy', code: 'SOCKET_RESET' });
  });
});

describe('network cable pulled', () => {
  it('a silent device fails SILENT after the silent timeout', async () => {
    const { device, deviceId, stateKeys } = await connectWithState(fast, { name: 'cable-pulled', behavior: 'no-result' });
    await waitFor(() => device.pings >= 1, WAIT_MS, 'a heartbeat ping answered');
    await accept(fast, deviceId, { node_id: 'cable-n1' });
    await waitForFlow(fast, 'cable-n1', 'in progress');
    device.goSilent();
    await expectDeviceFailed(fast, { deviceId, stateKeys, nodeIds: ['cable-n1'], from: 'busy', code: 'SILENT' });
    // the gateway closed the socket it gave up on
    await expect(device.closed).resolves.toMatchObject({ reason: expect.stringMatching(/remote-closed|error/) });
  });
});

describe('invalid response', () => {
  it('a garbage line while busy → INVALID_JSON', async () => {
    const { device, deviceId, stateKeys } = await connectWithState(sys, { name: 'garbage', behavior: 'no-result' });
    await accept(sys, deviceId, { node_id: 'garbage-n1' });
    await waitForFlow(sys, 'garbage-n1', 'in progress');
    device.sendGarbage();
    await expectDeviceFailed(sys, { deviceId, stateKeys, nodeIds: ['garbage-n1'], from: 'busy', code: 'INVALID_JSON' });
    await device.closed;
  });

  it('an unknown message type instead of the ack → UNKNOWN_MESSAGE', async () => {
    const { device, deviceId, stateKeys } = await connectWithState(sys, { name: 'unknown', behavior: 'unknown-on-command' });
    await accept(sys, deviceId, { node_id: 'unknown-n1' });
    await expectDeviceFailed(sys, { deviceId, stateKeys, nodeIds: ['unknown-n1'], from: 'awaitingAck', code: 'UNKNOWN_MESSAGE' });
    expect(device.commands.map((c) => c.node_id)).toEqual(['unknown-n1']);
    await device.closed;
  });

  it('a line over 64 KiB instead of the ack → LINE_TOO_LONG', async () => {
    const { device, deviceId, stateKeys } = await connectWithState(sys, { name: 'oversized', behavior: 'oversized-on-command' });
    await accept(sys, deviceId, { node_id: 'oversized-n1' });
    await expectDeviceFailed(sys, { deviceId, stateKeys, nodeIds: ['oversized-n1'], from: 'awaitingAck', code: 'LINE_TOO_LONG' });
    await device.closed;
  });

  it('an oversized line while busy → LINE_TOO_LONG', async () => {
    const { device, deviceId, stateKeys } = await connectWithState(sys, { name: 'oversized-busy', behavior: 'no-result' });
    await accept(sys, deviceId, { node_id: 'oversized-busy-n1' });
    await waitForFlow(sys, 'oversized-busy-n1', 'in progress');
    device.sendOversizedLine();
    await expectDeviceFailed(sys, { deviceId, stateKeys, nodeIds: ['oversized-busy-n1'], from: 'busy', code: 'LINE_TOO_LONG' });
  });
});

describe('multi-node device', () => {
  it('the device crashes while instance 1 works and both instances have commands pending: every flow fails', async () => {
    const { device, deviceId, stateKeys } = await connectWithState(sys, { name: 'multi-a', nodes: 2, behavior: 'no-result' });
    expect(stateKeys).toHaveLength(2);
    await accept(sys, deviceId, { node_id: 'multi-a-1a', instance: 1 });
    await waitForFlow(sys, 'multi-a-1a', 'in progress');
    await accept(sys, deviceId, { node_id: 'multi-a-2a', instance: 2 });
    await accept(sys, deviceId, { node_id: 'multi-a-1b', instance: 1 });
    await accept(sys, deviceId, { node_id: 'multi-a-2b', instance: 2 });
    await waitForPending(sys, deviceId, 4);
    device.crash();
    await expectDeviceFailed(sys, {
      deviceId,
      stateKeys,
      nodeIds: ['multi-a-1a', 'multi-a-2a', 'multi-a-1b', 'multi-a-2b'],
      from: 'busy',
      code: 'SOCKET_RESET',
    });
    expect(device.commands.map((c) => c.node_id)).toEqual(['multi-a-1a']);
  });

  it('instance 2 crashes on its command after instance 1 completed one: every pending flow of both instances fails', async () => {
    const { device, deviceId, stateKeys } = await connectWithState(sys, {
      name: 'multi-b',
      nodes: 2,
      behavior: { byInstance: { 1: 'no-result', 2: 'crash-on-command' } },
    });
    await accept(sys, deviceId, { node_id: 'multi-b-1a', instance: 1 });
    await waitForFlow(sys, 'multi-b-1a', 'in progress');
    await accept(sys, deviceId, { node_id: 'multi-b-2a', instance: 2 });
    await accept(sys, deviceId, { node_id: 'multi-b-1b', instance: 1 });
    await accept(sys, deviceId, { node_id: 'multi-b-2b', instance: 2 });
    await waitForPending(sys, deviceId, 4);
    // instance 1 finishes its work; the next command goes to instance 2, which crashes
    device.sendRaw(`${JSON.stringify({ type: 'result', id: device.commands[0]!.id, ok: true })}\n`);
    await waitForFlow(sys, 'multi-b-1a', 'completed');
    await expectDeviceFailed(sys, {
      deviceId,
      stateKeys,
      nodeIds: ['multi-b-2a', 'multi-b-1b', 'multi-b-2b'],
      from: 'awaitingAck',
      code: 'SOCKET_RESET',
    });
    expect(device.commands.map((c) => [c.node_id, c.instance])).toEqual([
      ['multi-b-1a', 1],
      ['multi-b-2a', 2],
    ]);
    expect((await getJson(sys, '/api/flows/multi-b-1a')).body.status).toBe('completed');
  });
});

describe('no acknowledgment', () => {
  it('a device that never acks fails NO_ACK after the ack timeout', async () => {
    const { device, deviceId, stateKeys } = await connectWithState(fast, { name: 'hangs', behavior: 'hang' });
    await accept(fast, deviceId, { node_id: 'hang-n1' });
    await expectDeviceFailed(fast, { deviceId, stateKeys, nodeIds: ['hang-n1'], from: 'awaitingAck', code: 'NO_ACK' });
    expect(device.commands).toHaveLength(1);
    await device.closed;
  });
});

describe('replaced connection', () => {
  it('a second connection with the same name replaces the first: its flows fail REPLACED, the second stays listed', async () => {
    const { device: first, deviceId, stateKeys } = await connectWithState(sys, { name: 'twin', behavior: 'no-result' });
    await accept(sys, deviceId, { node_id: 'twin-n1' });
    await waitForFlow(sys, 'twin-n1', 'in progress');
    const firstIncarnation = lastRecord(sys, deviceId)!.incarnation;

    const second = await connect(sys, { name: 'twin' });
    expect(second.id).toBe(deviceId);
    const flow = await waitForFlow(sys, 'twin-n1', 'failed');
    expect(flow.error.code).toBe('REPLACED');
    await first.closed;

    const last = await waitFor(() => {
      const r = lastRecord(sys, deviceId, firstIncarnation);
      return r?.to === 'failed' ? r : undefined;
    }, WAIT_MS, 'first connection failed');
    expect({ from: last.from, code: last.error?.code }).toEqual({ from: 'busy', code: 'REPLACED' });
    expectGapFree(sys.recordsOf(deviceId));

    const secondIncarnation = await waitFor(
      () => sys.recordsOf(deviceId).find((r) => r.incarnation !== firstIncarnation)?.incarnation,
      WAIT_MS,
      'second incarnation recorded',
    );
    // the first connection's keys are gone, the device is listed as the second connection
    await waitFor(async () => {
      const states = await sys.kvEntries('device_state');
      return stateKeys.every((k) => !(k in states));
    }, WAIT_MS, 'first connection device_state deleted');
    await waitForListed(sys, deviceId);
    const entry = (await sys.kvEntries('devices'))[encodeToken(deviceId)] as { incarnation: string };
    expect(entry.incarnation).toBe(secondIncarnation);
    expect(second.isOpen).toBe(true);

    // and the second connection works
    await accept(sys, deviceId, { node_id: 'twin-n2' });
    await waitForFlow(sys, 'twin-n2', 'completed');
    expect(second.commands.map((c) => c.node_id)).toEqual(['twin-n2']);
  });
});

describe('results', () => {
  it('result ok → flow completed, device stays idle and listed', async () => {
    const device = await connect(sys, { name: 'worker' });
    await waitForListed(sys, device.id);
    const commandId = await accept(sys, device.id, { node_id: 'worker-n1', params: { speed: 3 } });
    const flow = await waitForFlow(sys, 'worker-n1', 'completed');
    expect(flow).toMatchObject({ node_id: 'worker-n1', command_id: commandId, device_id: device.id });
    expect(flow.error).toBeUndefined();
    expect(device.commands[0]).toMatchObject({ id: commandId, node_id: 'worker-n1', instance: 1, command: 'run', params: { speed: 3 } });
    await waitFor(() => lastRecord(sys, device.id)?.to === 'idle', WAIT_MS, 'back to idle');
    expect(await listedDeviceIds(sys)).toContain(device.id);
  });

  it('result ok:false → flow failed DEVICE_REPORTED_FAILURE, the device stays connected', async () => {
    const device = await connect(sys, { name: 'reports-failure', behavior: 'fail', failError: 'motor stalled' });
    await waitForListed(sys, device.id);
    await accept(sys, device.id, { node_id: 'fail-n1' });
    const flow = await waitForFlow(sys, 'fail-n1', 'failed');
    expect(flow.error).toMatchObject({ code: 'DEVICE_REPORTED_FAILURE', message: 'motor stalled' });
    await waitFor(() => lastRecord(sys, device.id)?.to === 'idle', WAIT_MS, 'back to idle');
    expect(sys.recordsOf(device.id).some((r) => r.to === 'failed')).toBe(false);
    expect(await listedDeviceIds(sys)).toContain(device.id);
    expect(device.isOpen).toBe(true);
  });

  it('no result within the result timeout → flow failed RESULT_TIMEOUT; the device stays and runs the next command', async () => {
    const device = await connect(fast, { name: 'slowpoke', behavior: 'no-result' });
    await waitForListed(fast, device.id);
    await accept(fast, device.id, { node_id: 'slow-n1' });
    await waitForFlow(fast, 'slow-n1', 'in progress');
    const flow = await waitForFlow(fast, 'slow-n1', 'failed');
    expect(flow.error.code).toBe('RESULT_TIMEOUT');
    expect(await listedDeviceIds(fast)).toContain(device.id);
    expect(device.isOpen).toBe(true);

    device.setBehavior('normal');
    await accept(fast, device.id, { node_id: 'slow-n2' });
    await waitForFlow(fast, 'slow-n2', 'completed');
    expect(device.commands.map((c) => c.node_id)).toEqual(['slow-n1', 'slow-n2']);
    expect(fast.recordsOf(device.id).some((r) => r.to === 'failed')).toBe(false);
    expectGapFree(fast.recordsOf(device.id));
  });
});

describe('hello timeout', () => {
  it('a socket that never says hello gets HELLO_TIMEOUT and is closed', async () => {
    const registry = fast.gateway.gateway.registry;
    const before = registry.size();
    const client = await rawConnect(fast.devicePort);
    sockets.push(client);
    await client.closed;
    const lines = client.lines();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'error', code: 'HELLO_TIMEOUT' });
    // it never became a device
    expect(registry.size()).toBe(before);
    expect((await getJson(fast, '/healthz')).status).toBe(200);
  });
});
