import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimDevice } from '../../infra/device-sim/index.ts';
import { spawnLifeline, type LifelineProcess } from '../support/lifelineProcess.ts';
import { flowStatus, getJson, postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

let sys: TestSystem;
const processes: LifelineProcess[] = [];
const devices: SimDevice[] = [];

function startGateway(): LifelineProcess {
  // a lease far longer than the restart, however slow the machine: this test is about the restart
  // (GATEWAY_RESTARTED); an expired lease (GATEWAY_LEASE_EXPIRED) is test/scaleout's
  const p = spawnLifeline([
    'run', 'device-gateway', '--nats-url', sys.nats.url, '--data-dir', sys.dataDir, '--device-port', String(sys.devicePort),
  ], { LIFELINE_GATEWAY_LEASE_TTL_MS: '120000' });
  processes.push(p);
  return p;
}

beforeAll(async () => {
  sys = await startTestSystem({ gateway: false });
});
afterAll(async () => {
  for (const d of devices) d.crash();
  for (const p of processes) await p.kill();
  await sys?.stop();
});

describe('a gateway process killed with SIGKILL', () => {
  it('leaves no flow unfinished: the restarted gateway fails its lost devices (GATEWAY_RESTARTED)', async () => {
    const first = startGateway();
    await first.waitForOutput('device-gateway running');
    const device = await connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, name: 'orphan', behavior: 'no-result' });
    devices.push(device);
    await waitFor(async () => (await getJson(sys, '/api/devices')).body.length === 1, 5_000, 'device listed');
    expect((await postCommand(sys, device.id, { node_id: 'gw-a', command: 'run' })).status).toBe(202);
    expect((await postCommand(sys, device.id, { node_id: 'gw-b', command: 'run' })).status).toBe(202);
    await waitFor(async () => (await flowStatus(sys, 'gw-a')) === 'in progress', 5_000, 'gw-a in progress');

    await first.kill('SIGKILL');
    await device.closed;
    expect(await flowStatus(sys, 'gw-a')).toBe('in progress'); // nothing could record the loss yet

    const second = startGateway();
    await second.waitForOutput('device-gateway running');
    for (const node of ['gw-a', 'gw-b']) {
      await waitFor(async () => (await flowStatus(sys, node)) === 'failed', 10_000, `${node} failed`);
      expect((await getJson(sys, `/api/flows/${node}`)).body.error.code).toBe('GATEWAY_RESTARTED');
    }
    await waitFor(async () => (await getJson(sys, '/api/devices')).body.length === 0, 5_000, 'device gone');
    expect(Object.keys(await sys.kvEntries('devices'))).toEqual([]);
    const last = sys.recordsOf(device.id).at(-1)!;
    expect([last.to, last.error?.code, last.event]).toEqual(['failed', 'GATEWAY_RESTARTED', 'gateway.recovered']);

    // the device can come back to the new gateway and work
    const back = await connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, name: 'orphan' });
    devices.push(back);
    await waitFor(async () => (await getJson(sys, '/api/devices')).body.length === 1, 5_000, 'device back');
    expect((await postCommand(sys, back.id, { node_id: 'gw-c', command: 'run' })).status).toBe(202);
    await waitFor(async () => (await flowStatus(sys, 'gw-c')) === 'completed', 5_000, 'gw-c completed');
  });
});
