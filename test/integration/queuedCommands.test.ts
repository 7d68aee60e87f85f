import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimDevice, type SimDeviceOptions } from '../../infra/device-sim/index.ts';
import { WAIT_MS, closeAll, expectDeviceFailed, waitForDeviceStateKeys, waitForFlow, waitForListed, waitForPending } from '../support/integration.ts';
import { postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * Commands queue per device and go out one at a time, in order. The heartbeat is short so
 * that a ping works as a barrier: the gateway writes every line of a device to the same
 * socket, so a ping that arrived after a point proves nothing else was sent before it.
 */

let sys: TestSystem;
const devices: SimDevice[] = [];

async function connect(options: Omit<SimDeviceOptions, 'host' | 'port'>): Promise<SimDevice> {
  const device = await connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, ...options });
  devices.push(device);
  await waitForListed(sys, device.id);
  return device;
}

async function accept(deviceId: string, body: Record<string, unknown>): Promise<string> {
  const res = await postCommand(sys, deviceId, { command: 'run', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.command_id as string;
}

/** Two more pings reached the device: everything the gateway wrote before them arrived too. */
async function socketBarrier(device: SimDevice): Promise<void> {
  const pings = device.pings;
  await waitFor(() => device.pings >= pings + 2, WAIT_MS, 'two heartbeat pings');
}

function sendResult(device: SimDevice, id: string, ok = true): void {
  device.sendRaw(`${JSON.stringify({ type: 'result', id, ok })}\n`);
}

beforeAll(async () => {
  sys = await startTestSystem({ timing: { heartbeatIntervalMs: 100 } });
});

afterAll(async () => {
  await closeAll(devices);
  await sys?.stop();
});

describe('queued commands', () => {
  it('three commands queued on one device: the device dies on the first, all three flows fail', async () => {
    const device = await connect({ name: 'queue-crash', behavior: 'no-result', sendStatusOnConnect: true });
    const stateKeys = await waitForDeviceStateKeys(sys, device.id, 1);
    await accept(device.id, { node_id: 'qc-1' });
    await waitForFlow(sys, 'qc-1', 'in progress');
    await accept(device.id, { node_id: 'qc-2' });
    await accept(device.id, { node_id: 'qc-3' });
    await waitForPending(sys, device.id, 3);
    expect(device.commands.map((c) => c.node_id)).toEqual(['qc-1']);
    device.crash();
    await expectDeviceFailed(sys, { deviceId: device.id, stateKeys, nodeIds: ['qc-1', 'qc-2', 'qc-3'], from: 'busy', code: 'SOCKET_RESET' });
  });

  it('delivers commands in order, one at a time: the next only after the result of the previous', async () => {
    const device = await connect({ name: 'queue-order', behavior: 'no-result' });
    const ids = [await accept(device.id, { node_id: 'qo-1' })];
    await waitForFlow(sys, 'qo-1', 'in progress');
    ids.push(await accept(device.id, { node_id: 'qo-2' }), await accept(device.id, { node_id: 'qo-3' }));
    await waitForPending(sys, device.id, 3);
    await socketBarrier(device);
    expect(device.commands.map((c) => c.id)).toEqual([ids[0]]);
    expect((await waitForFlow(sys, 'qo-2', 'started')).command_id).toBe(ids[1]);

    sendResult(device, ids[0]!);
    await waitForFlow(sys, 'qo-1', 'completed');
    await device.waitForCommands(2, WAIT_MS);
    await waitForFlow(sys, 'qo-2', 'in progress');
    await socketBarrier(device);
    expect(device.commands.map((c) => c.id)).toEqual([ids[0], ids[1]]);

    sendResult(device, ids[1]!, false);
    await waitForFlow(sys, 'qo-2', 'failed');
    await device.waitForCommands(3, WAIT_MS);
    sendResult(device, ids[2]!);
    await waitForFlow(sys, 'qo-3', 'completed');
    expect(device.commands.map((c) => c.node_id)).toEqual(['qo-1', 'qo-2', 'qo-3']);
    // never two commands out at once: each arrived after the previous result was sent
    expect(device.isOpen).toBe(true);
  });

  it('round-robins over the instances when `instance` is omitted', async () => {
    const device = await connect({ name: 'queue-rr', nodes: 2, behavior: 'normal', resultDelayMs: 5 });
    const nodeIds = ['rr-1', 'rr-2', 'rr-3', 'rr-4', 'rr-5'];
    for (const nodeId of nodeIds) await accept(device.id, { node_id: nodeId });
    for (const nodeId of nodeIds) await waitForFlow(sys, nodeId, 'completed');
    expect(device.commands.map((c) => [c.node_id, c.instance])).toEqual([
      ['rr-1', 1],
      ['rr-2', 2],
      ['rr-3', 1],
      ['rr-4', 2],
      ['rr-5', 1],
    ]);
  });

  it('an explicit instance does not advance the round-robin', async () => {
    const device = await connect({ name: 'queue-rr-mixed', nodes: 3, behavior: 'normal', resultDelayMs: 5 });
    await accept(device.id, { node_id: 'rm-1' });
    await accept(device.id, { node_id: 'rm-2', instance: 3 });
    await accept(device.id, { node_id: 'rm-3' });
    await accept(device.id, { node_id: 'rm-4' });
    for (const nodeId of ['rm-1', 'rm-2', 'rm-3', 'rm-4']) await waitForFlow(sys, nodeId, 'completed');
    expect(device.commands.map((c) => c.instance)).toEqual([1, 3, 2, 3]);
  });
});
