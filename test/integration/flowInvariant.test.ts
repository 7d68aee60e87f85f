import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimBehaviorName, type SimDevice } from '../../infra/device-sim/index.ts';
import { spawnLifeline, type LifelineProcess } from '../support/lifelineProcess.ts';
import { flowStatus, postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * The invariant of the command intake, tested directly: every accepted command ends
 * `completed` or `failed` — none is left `started` or `in progress` — whatever dies and
 * whenever. A seeded script runs devices of every behaviour, submits commands, and kills
 * devices (RST, silence, garbage) and the gateway process (SIGKILL) at random moments.
 */

const SEED = 20261122;
const STEPS = 160;
const BEHAVIORS: SimBehaviorName[] = ['normal', 'normal', 'fail', 'no-result', 'hang', 'crash-on-command', 'garbage-on-command'];
const TIMING_ENV = {
  LIFELINE_DEVICE_ACK_TIMEOUT_MS: '400',
  LIFELINE_DEVICE_RESULT_TIMEOUT_MS: '1500',
  LIFELINE_DEVICE_HEARTBEAT_INTERVAL_MS: '200',
  LIFELINE_DEVICE_SILENT_TIMEOUT_MS: '800',
};

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let sys: TestSystem;
let gateway: LifelineProcess | undefined;
const sims = new Map<string, SimDevice>();
const accepted: string[] = [];

async function startGateway(): Promise<void> {
  gateway = spawnLifeline(
    ['run', 'device-gateway', '--nats-url', sys.nats.url, '--data-dir', sys.dataDir, '--device-port', String(sys.devicePort)],
    TIMING_ENV,
  );
  await gateway.waitForOutput('device-gateway running');
}

beforeAll(async () => {
  sys = await startTestSystem({ gateway: false });
  await startGateway();
});
afterAll(async () => {
  for (const d of sims.values()) d.crash();
  await gateway?.kill();
  await sys?.stop();
});

describe('flow invariant under random failures', () => {
  it('leaves no accepted command started or in progress', async () => {
    const random = mulberry32(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const names = Array.from({ length: 8 }, (_, i) => `inv${i}`);
    const connect = async (name: string): Promise<void> => {
      try {
        sims.get(name)?.crash();
        const device = await connectSimDevice({
          host: '127.0.0.1', port: sys.devicePort, name, nodes: 1 + Math.floor(random() * 2), behavior: pick(BEHAVIORS), resultDelayMs: 30,
        });
        sims.set(name, device);
      } catch {
        sims.delete(name); // the gateway was down: try again later
      }
    };
    for (const name of names) await connect(name);
    let gatewayKills = 0;
    let commandNo = 0;

    for (let step = 0; step < STEPS; step++) {
      const roll = random();
      const name = pick(names);
      const device = sims.get(name);
      if (roll < 0.6) {
        const nodeId = `inv-node-${commandNo++}`;
        const answer = await postCommand(sys, `127.0.0.1:${name}`, { node_id: nodeId, command: 'work' });
        if (answer.status === 202) accepted.push(nodeId);
        else expect([404, 400]).toContain(answer.status);
      } else if (roll < 0.7) device?.crash();
      else if (roll < 0.75) device?.goSilent();
      else if (roll < 0.8) device?.sendGarbage();
      else if (roll < 0.95) await connect(name);
      else if (gatewayKills < 2) {
        gatewayKills += 1;
        await gateway!.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 200));
        await startGateway();
      }
      await new Promise((r) => setTimeout(r, 10 + random() * 30));
    }

    expect(accepted.length).toBeGreaterThan(15);
    expect(gatewayKills).toBeGreaterThan(0);
    const unfinished = async (): Promise<string[]> => {
      const statuses = await Promise.all(accepted.map(async (node) => [node, await flowStatus(sys, node)] as const));
      return statuses.filter(([, s]) => s !== 'completed' && s !== 'failed').map(([n, s]) => `${n}:${s}`);
    };
    // the longest path to a terminal status: result timeout 1.5 s (+ queueing behind others)
    await waitFor(async () => (await unfinished()).length === 0, 25_000, 'every accepted flow terminal').catch(async (err) => {
      throw new Error(`${(err as Error).message}; unfinished: ${(await unfinished()).join(', ')}`);
    });
  }, 90_000);
});
