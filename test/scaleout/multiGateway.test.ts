import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimDevice } from '../../infra/device-sim/index.ts';
import { jetstream } from '@nats-io/jetstream';
import { freePorts } from '../../infra/nats/index.ts';
import type { AcceptedCommand } from '../../services/bus/schemas/commands.ts';
import { subjects } from '../../services/bus/subjects.ts';
import { newCommandId } from '../../services/hub/commandIntake.ts';
import { spawnLifeline, type LifelineProcess } from '../support/lifelineProcess.ts';
import { flowStatus, getJson, postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';
import { expectProjectionsEqualReplay } from './scaleoutSupport.ts';

/**
 * Two device gateways as real processes (gw-a, gw-b), each with its own devices; the
 * projector and hub in this process. Commands go to the gateway that owns the device;
 * a gateway killed with SIGKILL and never restarted loses its lease, and the projector
 * fails everything it owned.
 */

/** Short for the test, yet long enough that a healthy process on a loaded shared machine never misses it. */
const LEASE_TTL_MS = 3_000;
/** Lease TTL, plus the watcher's poll, the record's way through CONN and the projector, and a slow shared machine. */
const EXPIRY_DEADLINE_MS = LEASE_TTL_MS + 12_000;

let sys: TestSystem;
const gateways: Record<string, { process: LifelineProcess; port: number }> = {};
const devices: SimDevice[] = [];

async function startGateway(name: string): Promise<void> {
  const [port] = await freePorts(1);
  const gatewayProcess = spawnLifeline(
    ['run', 'device-gateway', '--nats-url', sys.nats.url, '--data-dir', sys.dataDir, '--device-port', String(port), '--gateway-name', name],
    { LIFELINE_GATEWAY_LEASE_TTL_MS: String(LEASE_TTL_MS) },
  );
  gateways[name] = { process: gatewayProcess, port: port! };
  await gatewayProcess.waitForOutput('device-gateway running', 60_000);
}

async function connect(gateway: string, name: string, behavior: 'normal' | 'no-result' = 'normal'): Promise<SimDevice> {
  const device = await connectSimDevice({ host: '127.0.0.1', port: gateways[gateway]!.port, name, behavior });
  devices.push(device);
  return device;
}

async function listed(): Promise<Array<{ device_id: string; gateway: string }>> {
  return (await getJson(sys, '/api/devices')).body;
}

beforeAll(async () => {
  sys = await startTestSystem({ gateway: false });
  await Promise.all([startGateway('gw-a'), startGateway('gw-b')]);
}, 120_000);

afterAll(async () => {
  for (const d of devices) if (d.isOpen) d.crash();
  for (const g of Object.values(gateways)) await g.process.kill();
  await sys?.stop();
});

describe('several gateways', () => {
  it('routes each command to the gateway that owns the device, and each completes', async () => {
    const a = await connect('gw-a', 'route-a');
    const b = await connect('gw-b', 'route-b');
    await waitFor(async () => (await listed()).length === 2, 20_000, 'both devices listed');
    expect(Object.fromEntries((await listed()).map((d) => [d.device_id, d.gateway]))).toEqual({ [a.id]: 'gw-a', [b.id]: 'gw-b' });

    for (let i = 0; i < 3; i++) {
      expect((await postCommand(sys, a.id, { node_id: `route-a-${i}`, command: 'run' })).status).toBe(202);
      expect((await postCommand(sys, b.id, { node_id: `route-b-${i}`, command: 'run' })).status).toBe(202);
    }
    for (let i = 0; i < 3; i++) {
      for (const node of [`route-a-${i}`, `route-b-${i}`]) {
        await waitFor(async () => (await flowStatus(sys, node)) === 'completed', 20_000, `${node} completed`);
      }
    }
    // each device saw exactly its own commands: none was rejected by the other gateway
    expect(a.commands.map((c) => c.node_id).sort()).toEqual(['route-a-0', 'route-a-1', 'route-a-2']);
    expect(b.commands.map((c) => c.node_id).sort()).toEqual(['route-b-0', 'route-b-1', 'route-b-2']);
  }, 120_000);

  it('a gateway killed and not restarted: its lease expires and every flow it held ends failed', async () => {
    const lost = [await connect('gw-a', 'lost-1', 'no-result'), await connect('gw-a', 'lost-2', 'no-result')];
    const kept = await connect('gw-b', 'kept', 'no-result');
    await waitFor(async () => (await listed()).length === 5, 20_000, 'five devices listed');
    const lostNodes = ['lost-1-x', 'lost-1-y', 'lost-2-x'];
    expect((await postCommand(sys, lost[0]!.id, { node_id: 'lost-1-x', command: 'run' })).status).toBe(202);
    expect((await postCommand(sys, lost[0]!.id, { node_id: 'lost-1-y', command: 'run' })).status).toBe(202);
    expect((await postCommand(sys, lost[1]!.id, { node_id: 'lost-2-x', command: 'run' })).status).toBe(202);
    expect((await postCommand(sys, kept.id, { node_id: 'kept-x', command: 'run' })).status).toBe(202);
    for (const node of ['lost-1-x', 'lost-2-x', 'kept-x']) {
      await waitFor(async () => (await flowStatus(sys, node)) === 'in progress', 20_000, `${node} in progress (acked, no result)`);
    }

    await gateways['gw-a']!.process.kill('SIGKILL');
    const killedAt = Date.now();
    await Promise.all(lost.map((d) => d.closed));
    // accepted while the dead gateway's devices are still listed: routed to gw-a, which will never take it
    const late = await postCommand(sys, lost[1]!.id, { node_id: 'lost-2-late', command: 'run' });
    if (late.status === 202) lostNodes.push('lost-2-late');

    for (const node of lostNodes) {
      await waitFor(async () => (await flowStatus(sys, node)) === 'failed', EXPIRY_DEADLINE_MS, `${node} failed`);
    }
    const failedWithin = Date.now() - killedAt;
    for (const node of lostNodes) {
      const code = (await getJson(sys, `/api/flows/${node}`)).body.error.code;
      expect(node === 'lost-2-late' ? ['GATEWAY_LEASE_EXPIRED', 'DEVICE_NOT_CONNECTED'] : ['GATEWAY_LEASE_EXPIRED']).toContain(code);
    }
    await waitFor(async () => !(await listed()).some((d) => d.gateway === 'gw-a'), 15_000, 'gw-a devices gone');
    expect(failedWithin).toBeLessThan(EXPIRY_DEADLINE_MS);
    // gw-b's devices are untouched: listed, their flow still in progress
    const onB = devices.filter((d) => d.isOpen && (d.id.endsWith(':route-b') || d.id === kept.id)).map((d) => d.id);
    expect((await listed()).filter((d) => d.gateway === 'gw-b').map((d) => d.device_id).sort()).toEqual(onB.sort());
    expect(onB).toHaveLength(2);
    expect(await flowStatus(sys, 'kept-x')).toBe('in progress');
    // a command to a device of the dead gateway is now refused at once
    expect((await postCommand(sys, lost[0]!.id, { node_id: 'lost-after', command: 'run' })).status).toBe(404);
    process.stdout.write(`[scale-out] flows of the SIGKILLed gateway failed ${failedWithin} ms after the kill (lease TTL ${LEASE_TTL_MS} ms)\n`);

    // a command the intake routed to gw-a just before it learnt the device was gone (as the
    // hub publishes it): gw-a will never take it, the projector rejects it from gw-a's durable
    const straggler: AcceptedCommand = {
      command_id: newCommandId(),
      device_id: lost[0]!.id,
      node_id: 'lost-straggler',
      command: 'run',
      params: {},
      accepted_at: new Date().toISOString(),
    };
    await jetstream(sys.admin.nc).publish(subjects.routedCommand('gw-a', straggler.device_id), JSON.stringify(straggler), { msgID: straggler.command_id });
    await waitFor(async () => (await flowStatus(sys, 'lost-straggler')) === 'failed', 20_000, 'the straggler rejected by the projector');
    expect((await getJson(sys, '/api/flows/lost-straggler')).body.error.code).toBe('GATEWAY_LEASE_EXPIRED');

    await expectProjectionsEqualReplay(sys);
  }, 120_000);

  it('a gateway that hung past its lease fences itself when it resumes: its devices are closed, none comes back by a stale record', async () => {
    const kept = devices.find((d) => d.isOpen && d.name === 'kept')!;
    const oldIncarnation = (Object.values(await sys.kvEntries('devices')) as Array<{ device_id: string; incarnation: string }>).find((d) => d.device_id === kept.id)!;
    const gwB = gateways['gw-b']!.process;
    process.kill(gwB.child.pid!, 'SIGSTOP');
    try {
      // the projector declares gw-b's lease expired and fails what it held
      await waitFor(async () => (await flowStatus(sys, 'kept-x')) === 'failed', EXPIRY_DEADLINE_MS, 'kept-x failed while gw-b hangs');
      expect((await getJson(sys, '/api/flows/kept-x')).body.error.code).toBe('GATEWAY_LEASE_EXPIRED');
      await waitFor(async () => (await listed()).length === 0, 15_000, 'gw-b devices gone');
    } finally {
      process.kill(gwB.child.pid!, 'SIGCONT');
    }
    // resumed, its renewal finds the lease expired: it closes every device and takes a new lease
    const closed = await kept.closed;
    expect(closed.reason).toBe('remote-closed');
    await waitFor(
      async () => {
        const lease = (await sys.kvEntries('gateway_leases'))['gw-b'] as { expired_by?: string } | undefined;
        return lease !== undefined && lease.expired_by === undefined;
      },
      10_000,
      'gw-b holds a new lease',
    );
    // the device comes back, on a new incarnation, and works
    const back = await connect('gw-b', 'kept');
    await waitFor(async () => (await listed()).some((d) => d.device_id === back.id), 20_000, 'kept back');
    expect((await postCommand(sys, back.id, { node_id: 'kept-back', command: 'run' })).status).toBe(202);
    await waitFor(async () => (await flowStatus(sys, 'kept-back')) === 'completed', 20_000, 'kept-back completed');
    const ends = Object.values(await sys.kvEntries('device_ends')) as Array<{ device_id: string; incarnations: string[] }>;
    expect(ends.find((e) => e.device_id === kept.id)?.incarnations).toContain(oldIncarnation.incarnation);
    await expectProjectionsEqualReplay(sys);
  }, 120_000);
});
