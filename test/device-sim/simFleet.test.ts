import { afterEach, describe, expect, it } from 'vitest';
import { connectSimFleet, type SimFleet } from '../../infra/device-sim/simFleet.ts';
import { pickDistinct, seededRandom } from '../../infra/device-sim/random.ts';
import { startTestGateway, type TestGateway } from './testGateway.ts';

const gateways: TestGateway[] = [];
const fleets: SimFleet[] = [];

afterEach(async () => {
  await Promise.all(fleets.splice(0).map((f) => f.closeAll()));
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

async function gateway(opts?: Parameters<typeof startTestGateway>[0]): Promise<TestGateway> {
  const g = await startTestGateway(opts);
  gateways.push(g);
  return g;
}

describe('connectSimFleet', () => {
  it('connects 200 devices with bounded concurrency, then closes them all cleanly', async () => {
    const g = await gateway({ welcomeDelayMs: 5 });
    const fleet = await connectSimFleet({ host: '127.0.0.1', port: g.port, count: 200, nodes: 2, namePrefix: 'fl', concurrency: 25 });
    fleets.push(fleet);

    expect(fleet.devices).toHaveLength(200);
    expect(fleet.devices[0]?.name).toBe('fl1');
    expect(fleet.devices[199]?.name).toBe('fl200');
    expect(new Set(fleet.devices.map((d) => d.id)).size).toBe(200);
    expect(fleet.devices.every((d) => d.isOpen && d.id === `127.0.0.1:${d.name}` && d.nodes === 2)).toBe(true);
    expect(fleet.get('fl42')?.name).toBe('fl42');
    expect(g.connections).toHaveLength(200);
    expect(g.maxPendingWelcomes).toBeGreaterThan(1);
    expect(g.maxPendingWelcomes).toBeLessThanOrEqual(25);

    await fleet.closeAll();
    expect(fleet.devices.every((d) => !d.isOpen)).toBe(true);
    await Promise.all(g.connections.map((c) => c.closed));
    expect(g.connections.every((c) => c.ended && c.error === undefined)).toBe(true);
  });

  it('crashRandom resets n distinct devices, chosen by the seed', async () => {
    const g = await gateway();
    const fleet = await connectSimFleet({ host: '127.0.0.1', port: g.port, count: 20, behavior: 'fail' });
    fleets.push(fleet);
    const expected = pickDistinct(fleet.devices, 5, seededRandom(42)).map((d) => d.name);
    const victims = fleet.crashRandom(5, 42);
    expect(victims.map((d) => d.name)).toEqual(expected);
    expect(new Set(expected).size).toBe(5);
    await Promise.all(victims.map((d) => d.closed));
    const reset = await Promise.all(expected.map((name) => g.waitForDevice(name)));
    await Promise.all(reset.map((c) => c.closed));
    expect(reset.every((c) => c.error?.code === 'ECONNRESET')).toBe(true);
    expect(fleet.devices.filter((d) => d.isOpen)).toHaveLength(15);
    expect(fleet.crashRandom(100, 1)).toHaveLength(15);
  });

  it('applies a per-device behavior function', async () => {
    const g = await gateway();
    const fleet = await connectSimFleet({
      host: '127.0.0.1',
      port: g.port,
      count: 3,
      behavior: (index) => (index === 2 ? 'hang' : 'normal'),
    });
    fleets.push(fleet);
    expect(fleet.devices.map((d) => d.behavior)).toEqual(['normal', 'hang', 'normal']);
  });

  it('rejects with FLEET_CONNECT_FAILED and closes what it connected when the gateway stops welcoming', async () => {
    const g = await gateway({ autoWelcome: false });
    const failing = connectSimFleet({ host: '127.0.0.1', port: g.port, count: 5, concurrency: 2, welcomeTimeoutMs: 100 });
    await expect(failing).rejects.toMatchObject({ code: 'FLEET_CONNECT_FAILED', message: expect.stringContaining('connected 0 of 5') });
    expect(g.connections.length).toBeLessThanOrEqual(2);
  });
});
