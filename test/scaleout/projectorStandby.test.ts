import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimDevice } from '../../infra/device-sim/index.ts';
import { projectorHeartbeatSchema } from '../../services/bus/schemas/leases.ts';
import { parseJsonWith } from '../../services/bus/schemas/parse.ts';
import { PROJECTOR_HEARTBEAT_SUBJECT } from '../../services/projector/broadcasts.ts';
import { spawnLifeline, type LifelineProcess } from '../support/lifelineProcess.ts';
import { flowStatus, getJson, postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';
import { expectProjectionsEqualReplay, projectorLeader } from './scaleoutSupport.ts';

/**
 * Two `lifeline run projector` processes: one consumes, the other stands by. The active
 * one hangs (SIGSTOP): the standby takes over once the lease has stood still for its TTL,
 * and the old one, resumed, steps down to standby. Then the new active one is killed with
 * SIGKILL and the old one takes over again. Devices crash while no projector consumes;
 * their flows still end failed, and the projections equal a replay of the log.
 */

/** Short for the test, yet long enough that a healthy process on a loaded shared machine never misses it. */
const LEASE_TTL_MS = 3_000;
const TAKEOVER_DEADLINE_MS = LEASE_TTL_MS + 12_000;

let sys: TestSystem;
const projectors: LifelineProcess[] = [];
const devices: SimDevice[] = [];
const beats: Array<{ role?: string | undefined; holder?: string | undefined; at: number }> = [];

function startProjector(): LifelineProcess {
  const p = spawnLifeline(['run', 'projector', '--nats-url', sys.nats.url, '--data-dir', sys.dataDir], {
    LIFELINE_PROJECTOR_LEASE_TTL_MS: String(LEASE_TTL_MS),
  });
  projectors.push(p);
  return p;
}

let deviceCount = 0;
/** A device with two commands acked and never answered (flows `in progress` / `started`). */
async function busyDevice(): Promise<{ device: SimDevice; nodes: string[] }> {
  deviceCount += 1;
  const device = await connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, name: `standby-${deviceCount}`, behavior: 'no-result' });
  devices.push(device);
  await waitFor(async () => (await getJson(sys, '/api/devices')).body.some((d: { device_id: string }) => d.device_id === device.id), 20_000, `${device.id} listed`);
  const nodes = [`sb-${deviceCount}-a`, `sb-${deviceCount}-b`];
  for (const node of nodes) expect((await postCommand(sys, device.id, { node_id: node, command: 'run' })).status).toBe(202);
  await waitFor(async () => (await flowStatus(sys, nodes[0]!)) === 'in progress', 20_000, `${nodes[0]} in progress`);
  return { device, nodes };
}

async function waitForFailed(nodes: string[], what: string): Promise<void> {
  await waitFor(async () => {
    for (const n of nodes) if ((await flowStatus(sys, n)) !== 'failed') return false;
    return true;
  }, TAKEOVER_DEADLINE_MS, what);
}

beforeAll(async () => {
  sys = await startTestSystem({ projector: false });
  sys.admin.nc.subscribe(PROJECTOR_HEARTBEAT_SUBJECT, {
    callback: (_err, msg) => {
      const beat = parseJsonWith(projectorHeartbeatSchema, 'heartbeat', msg.data);
      if (beat.ok) beats.push({ ...beat.value, at: Date.now() });
    },
  });
}, 120_000);

afterAll(async () => {
  for (const d of devices) if (d.isOpen) d.crash();
  for (const p of projectors) {
    if (p.child.pid && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGCONT');
    await p.kill();
  }
  await sys?.stop();
});

describe('projector standby', () => {
  it('takes over from a hung active projector (which steps down) and from a SIGKILLed one; no flow hangs, projections equal a replay', async () => {
    const first = startProjector();
    await first.waitForOutput('projector running', 60_000);
    await waitFor(async () => (await fetch(`${sys.httpUrl}/healthz`)).status === 200, 20_000, '/healthz 200 with the first projector');
    const firstHolder = (await projectorLeader(sys))!;
    expect(firstHolder).toBeDefined();
    const second = startProjector();
    await second.waitForOutput('projector running', 60_000);
    await waitFor(() => beats.some((b) => b.role === 'standby'), 15_000, 'a standby heartbeat');
    const secondHolder = beats.find((b) => b.role === 'standby')!.holder;
    expect(await projectorLeader(sys)).toBe(firstHolder);
    expect((await fetch(`${sys.httpUrl}/healthz`)).status).toBe(200); // a standby does not make the hub doubt

    // 1. the active projector hangs: the standby takes over after the lease TTL
    const hung = await busyDevice();
    process.kill(first.child.pid!, 'SIGSTOP');
    const stoppedAt = Date.now();
    hung.device.crash();
    await waitForFailed(hung.nodes, 'flows of a device that crashed while the active projector hung');
    const hungTakeover = Date.now() - stoppedAt;
    expect(await projectorLeader(sys)).toBe(secondHolder);
    // it waited for the lease to stand still a whole TTL since the last renewal it saw, which
    // came up to a renewal period (TTL/4) before the SIGSTOP; the hung leader's own validity
    // ended TTL/5 before that, so the two never overlapped
    expect(hungTakeover).toBeGreaterThanOrEqual(LEASE_TTL_MS * 0.75 - 100);

    // the old one resumes: it notices it lost the lease and becomes a standby
    const resumedAt = Date.now();
    process.kill(first.child.pid!, 'SIGCONT');
    await waitFor(() => beats.some((b) => b.role === 'standby' && b.holder === firstHolder && b.at > resumedAt), 20_000, 'the resumed projector beats as a standby');
    expect(await projectorLeader(sys)).toBe(secondHolder);

    // 2. the new active projector is killed: the first takes over again
    const killed = await busyDevice();
    await second.kill('SIGKILL');
    const killedAt = Date.now();
    killed.device.crash();
    await waitForFailed(killed.nodes, 'flows of a device that crashed after the active projector was killed');
    const killTakeover = Date.now() - killedAt;
    expect(await projectorLeader(sys)).toBe(firstHolder);
    expect(killTakeover).toBeLessThan(TAKEOVER_DEADLINE_MS);
    await waitFor(async () => (await getJson(sys, '/api/devices')).body.length === 0, 15_000, 'crashed devices gone');
    await waitFor(async () => (await fetch(`${sys.httpUrl}/healthz`)).status === 200, 20_000, '/healthz 200 again');

    // and it keeps working: a new device's command completes
    const next = await connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, name: 'after-takeover' });
    devices.push(next);
    await waitFor(async () => (await getJson(sys, '/api/devices')).body.length === 1, 20_000, 'new device listed');
    expect((await postCommand(sys, next.id, { node_id: 'sb-after', command: 'run' })).status).toBe(202);
    await waitFor(async () => (await flowStatus(sys, 'sb-after')) === 'completed', 20_000, 'sb-after completed');
    process.stdout.write(
      `[scale-out] standby took over: from a hung projector in ${hungTakeover} ms, from a SIGKILLed one in ${killTakeover} ms (lease TTL ${LEASE_TTL_MS} ms)\n`,
    );

    await sys.gateway.outbox.flush();
    await expectProjectionsEqualReplay(sys);
  }, 120_000);
});
