import { jetstreamManager, type ConsumerInfo } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimDevice } from '../../infra/device-sim/index.ts';
import { dumpProjections, replayToMemory, type ProjectionDump } from '../../services/projector/replay.ts';
import { spawnLifeline, type LifelineProcess } from '../support/lifelineProcess.ts';
import { allConsumersCaughtUp, consumerCaughtUp } from '../support/streams.ts';
import { getJson, postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * The projector runs as a real `lifeline run projector` process and is killed with
 * SIGKILL in the middle of a steady stream of transitions. A new process takes over its
 * durable consumers; once it has caught up, the projections are exactly what a replay of
 * the log gives, and `lifeline replay` (another real process) rebuilds the same content.
 */

let sys: TestSystem;
const children: LifelineProcess[] = [];
const devices: SimDevice[] = [];

beforeAll(async () => {
  sys = await startTestSystem({
    projector: false,
    timing: { heartbeatIntervalMs: 500, silentTimeoutMs: 10_000, ackTimeoutMs: 5_000, resultTimeoutMs: 10_000 },
  });
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill('SIGKILL')));
  for (const d of devices) if (d.isOpen) d.crash();
  await sys?.stop();
});

function lifeline(...args: string[]): LifelineProcess {
  const child = spawnLifeline([...args, '--nats-url', sys.nats.url, '--data-dir', sys.dataDir], { LIFELINE_LOG_LEVEL: 'warn' });
  children.push(child);
  return child;
}

async function startProjectorProcess(): Promise<LifelineProcess> {
  const projector = lifeline('run', 'projector');
  await projector.waitForOutput('projector running', 20_000);
  return projector;
}

let deviceCount = 0;
async function connectDevice(behavior: 'normal' | 'no-result' = 'normal'): Promise<SimDevice> {
  deviceCount += 1;
  const device = await connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, name: `d${deviceCount}`, nodes: 2, behavior, resultDelayMs: 5 });
  devices.push(device);
  return device;
}

/**
 * Transitions at a steady pace until stopped: commands to connected devices (some to
 * devices that just died: rejected), status lines, devices crashing and new ones connecting.
 */
function produceLoad(live: SimDevice[]): { stop(): Promise<void>; counts: Record<string, number> } {
  let running = true;
  const counts: Record<string, number> = { accepted: 0, refused: 0, crashed: 0, connected: 0, statuses: 0 };
  let n = 0;
  const poster = async (worker: number): Promise<void> => {
    while (running) {
      n += 1;
      const device = live[(n * 7 + worker) % live.length]!;
      const res = await postCommand(sys, device.id, { node_id: `node-${n % 60}`, command: 'run', params: { n } });
      counts[res.status === 202 ? 'accepted' : 'refused']! += 1;
      if (device.isOpen && n % 3 === 0) {
        device.sendStatus(1 + (n % 2), n % 5 === 0 ? 'busy' : 'idle', { n });
        counts.statuses! += 1;
      }
    }
  };
  const churn = async (): Promise<void> => {
    let i = 0;
    while (running) {
      await new Promise((r) => setTimeout(r, 150));
      i += 1;
      // a device dies with work in progress (its flows fail), a new one takes its place
      const victim = live.splice((i * 5) % live.length, 1)[0]!;
      victim.crash();
      counts.crashed! += 1;
      live.push(await connectDevice(i % 4 === 0 ? 'no-result' : 'normal'));
      counts.connected! += 1;
    }
  };
  const tasks = [...Array.from({ length: 4 }, (_, w) => poster(w)), churn()];
  return {
    counts,
    stop: async () => {
      running = false;
      await Promise.all(tasks);
    },
  };
}

async function consumerInfo(stream: string): Promise<ConsumerInfo> {
  return (await jetstreamManager(sys.admin.nc)).consumers.info(stream, 'projector');
}

async function projectorCaughtUp(): Promise<boolean> {
  return (await consumerCaughtUp(sys.admin.nc, 'CONN', 'projector')) && (await consumerCaughtUp(sys.admin.nc, 'COMMANDS', 'projector'));
}

describe('projector crash', () => {
  it('a projector killed mid-stream is replaced and the projections equal a replay of the log', async () => {
    const first = await startProjectorProcess();
    const live = await Promise.all(Array.from({ length: 20 }, () => connectDevice()));
    await waitFor(async () => (await getJson(sys, '/api/devices')).body.length === live.length, 10_000, 'devices projected and listed');

    const load = produceLoad(live);
    try {
      await waitFor(async () => (await consumerInfo('CONN')).ack_floor.stream_seq > 300, 10_000, 'the first projector applying records');
      // mid-stream: it hangs (the server keeps delivering to it) and dies with those messages unacknowledged
      process.kill(first.child.pid!, 'SIGSTOP');
      // devices end meanwhile: their last records, which nothing supersedes, go to the hung projector
      const victims = live.splice(0, 3);
      for (const v of victims) v.crash();
      const gone = victims.map((v) => v.id);
      await waitFor(() => !sys.gateway.gateway.registry.all().some((a) => gone.includes(a.id)), 10_000, 'victims failed');
      const enqueued = sys.gateway.outbox.stats().enqueued;
      await waitFor(() => sys.gateway.outbox.stats().published >= enqueued, 10_000, 'their records stored');
      const target = (await jetstreamManager(sys.admin.nc).then((j) => j.streams.info('CONN'))).state.last_seq;
      await waitFor(
        async () => {
          const info = await consumerInfo('CONN');
          return info.delivered.stream_seq >= target && info.num_ack_pending >= 50;
        },
        10_000,
        'records delivered to the hung projector, unacknowledged',
      );
      for (let i = 0; i < victims.length; i++) live.push(await connectDevice());
      const beforeKill = { ...load.counts };
      expect(await first.kill('SIGKILL')).toBe(null);
      // keep producing while no projector runs
      await waitFor(() => load.counts.accepted! > beforeKill.accepted! + 100 && load.counts.crashed! > beforeKill.crashed! + 3, 10_000, 'load without a projector');
      const second = await startProjectorProcess();
      const afterRestart = { ...load.counts };
      await waitFor(() => load.counts.accepted! > afterRestart.accepted! + 100, 10_000, 'load with the second projector');
      expect(second.child.exitCode).toBe(null);
    } finally {
      await load.stop();
    }
    expect(load.counts.refused).toBeGreaterThan(0); // commands to devices the hub no longer lists
    expect(load.counts.accepted).toBeGreaterThan(300);

    // quiet: every command delivered, hung devices gone, the rest idle, every record stored, all of it projected
    await waitFor(() => allConsumersCaughtUp(sys.admin.nc, 'COMMANDS'), 15_000, 'commands delivered');
    for (const d of live) if (d.behavior === 'no-result') d.crash();
    const open = (): string[] => devices.filter((d) => d.isOpen).map((d) => d.id).sort();
    await waitFor(
      () =>
        JSON.stringify(sys.gateway.gateway.registry.all().map((a) => a.id).sort()) === JSON.stringify(open()) &&
        sys.gateway.gateway.registry.all().every((a) => {
          const s = a.actor.getSnapshot();
          return s.value === 'idle' && s.context.queue.length === 0;
        }),
      15_000,
      'crashed devices gone from the gateway, the others idle',
    );
    await sys.gateway.outbox.flush();
    await waitFor(projectorCaughtUp, 20_000, 'the second projector caught up (num_pending 0 on CONN and COMMANDS)');

    const projected = await dumpProjections(sys.admin.nc);
    const replayed = await replayToMemory(sys.admin.nc);
    expect(Object.keys(projected.flows!).length).toBeGreaterThan(10);
    expectSameProjections(projected, replayed);
    // and the projection shows exactly the devices the gateway holds
    expect(Object.values(projected.devices!).map((d) => (d as { device_id: string }).device_id).sort()).toEqual(
      sys.gateway.gateway.registry.all().map((a) => a.id).sort(),
    );

    // `lifeline replay` as a process: wipes the buckets and rebuilds the same content
    const replay = lifeline('replay');
    const code = await new Promise<number | null>((resolve) =>
      replay.child.exitCode !== null ? resolve(replay.child.exitCode) : replay.child.once('exit', (c) => resolve(c)),
    );
    if (code !== 0) {
      const streams: string[] = [];
      for await (const name of (await jetstreamManager(sys.admin.nc)).streams.names()) streams.push(name);
      expect.fail(`lifeline replay exited ${code}; streams now: ${streams.sort().join(', ')}\n${replay.output()}`);
    }
    expect(replay.output()).toContain('projections rebuilt');
    expectSameProjections(await dumpProjections(sys.admin.nc), replayed);
  }, 40_000);
});

/** Bucket by bucket, so that a failure names the bucket and the keys that differ. */
function expectSameProjections(actual: ProjectionDump, expected: ProjectionDump): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const bucket of Object.keys(expected)) {
    const a = actual[bucket] ?? {};
    const e = expected[bucket] ?? {};
    const differing = [...new Set([...Object.keys(a), ...Object.keys(e)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(e[k]));
    expect(
      differing.slice(0, 5).map((k) => ({ key: k, projected: a[k], replayed: e[k] })),
      `${bucket}: ${differing.length} key(s) differ`,
    ).toEqual([]);
    expect(a).toEqual(e);
  }
}
