import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../infra/nats/index.ts';
import { spawnLifeline, type LifelineProcess } from '../support/lifelineProcess.ts';
import { upEnv } from '../support/upEnv.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * `lifeline up` runs the bundled nats-server under its own child supervisor: a
 * nats-server killed with SIGKILL is restarted (a new pid, `ready` again), the services
 * reconnect, and the supervisor's transitions are in the actors projection.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'lifeline-nats-supervised-'));
let proc: LifelineProcess | undefined;

afterAll(async () => {
  await proc?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

type Actor = { kind: string; id: string; state: string; seq: number };

describe('lifeline up supervises its nats-server', () => {
  it('restarts a nats-server killed with SIGKILL; the system is healthy again', async () => {
    const [http, device, nats, natsWs, natsMon] = (await freePorts(5)) as [number, number, number, number, number];
    proc = spawnLifeline(['up'], upEnv(dataDir, { http, device, nats, natsWs, natsMonitor: natsMon }));
    await proc.waitForOutput('Lifeline is up', 30_000);
    const httpUrl = `http://127.0.0.1:${http}`;
    const natsActor = async (): Promise<Actor | undefined> =>
      ((await (await fetch(`${httpUrl}/api/actors`)).json()) as Actor[]).find((a) => a.kind === 'child' && a.id === 'nats-server');
    const before = await waitFor(async () => (await natsActor())?.state.startsWith('ready') && (await natsActor()), 10_000, 'nats-server ready');
    // the nats-server is the one process whose command line holds this data directory (its log path)
    const pidOf = async (): Promise<number> => {
      try {
        return Number(execFileSync('pgrep', ['-f', `${dataDir}/nats-server.log`]).toString().trim().split('\n')[0]);
      } catch {
        return 0;
      }
    };
    const pid = await pidOf();
    expect(pid).toBeGreaterThan(0);

    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await pidOf().catch(() => 0)) > 0 && (await pidOf()) !== pid, 20_000, 'a new nats-server');
    await waitFor(async () => (await fetch(`${httpUrl}/healthz`)).status === 200, 20_000, 'healthy again');
    const after = await waitFor(async () => {
      const a = await natsActor();
      return a && a.state.startsWith('ready') && a.seq > before.seq ? a : undefined;
    }, 20_000, 'supervisor recorded the crash and the restart');
    expect(after.seq).toBeGreaterThan(before.seq);

    expect(await proc.kill('SIGINT')).toBe(0);
    expect(await pidOf()).toBe(0);
  }, 90_000);
});
