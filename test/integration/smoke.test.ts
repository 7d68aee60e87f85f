import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice } from '../../infra/device-sim/index.ts';
import { flowStatus, getJson, postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

let sys: TestSystem;
beforeAll(async () => {
  sys = await startTestSystem();
});
afterAll(async () => {
  await sys?.stop();
});

describe('device crash during execution', () => {
  it('fails the flow, removes the device and records busy → failed SOCKET_RESET', async () => {
    const device = await connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, name: 'crashy', behavior: 'no-result' });
    const deviceId = device.id;
    await waitFor(async () => (await getJson(sys, '/api/devices')).body.length === 1, 5_000, 'device listed');
    const accepted = await postCommand(sys, deviceId, { node_id: 'n-crash', command: 'start' });
    expect(accepted.status).toBe(202);
    await waitFor(async () => (await flowStatus(sys, 'n-crash')) === 'in progress', 5_000, 'in progress');
    device.crash();
    await waitFor(async () => (await flowStatus(sys, 'n-crash')) === 'failed', 5_000, 'failed');
    const flow = await getJson(sys, '/api/flows/n-crash');
    expect(flow.body.error.code).toBe('SOCKET_RESET');
    await waitFor(async () => (await getJson(sys, '/api/devices')).body.length === 0, 5_000, 'device gone');
    const last = sys.recordsOf(deviceId).at(-1)!;
    expect([last.from, last.to, last.error?.code]).toEqual(['busy', 'failed', 'SOCKET_RESET']);
  });
});
