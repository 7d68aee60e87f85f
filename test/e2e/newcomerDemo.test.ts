import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts, loadOrCreateCredentials } from '../../infra/nats/index.ts';
import { connectAs } from '../../services/cli/natsEndpoint.ts';
import { ensureDashboardBuilt } from '../support/dashboardBuild.ts';
import { spawnLifeline, type LifelineProcess } from '../support/lifelineProcess.ts';
import { upEnv } from '../support/upEnv.ts';
import { readRecords } from '../support/streams.ts';
import { waitFor } from '../support/waitFor.ts';
import { wsProbe } from '../support/wsProbe.ts';

/**
 * The newcomer path: the README's start command with `--demo` (temporary data dir, free
 * ports) brings up actors of all six kinds within 60 s, with failures of devices, the
 * child, the RPC poller and the link in the log; SIGINT leaves no process behind.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'lifeline-newcomer-'));
let proc: LifelineProcess | undefined;

afterAll(async () => {
  await proc?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });

describe('lifeline up --demo (newcomer path)', () => {
  it('all six kinds and failures of device, child, rpc and link within 60 s; SIGINT leaves nothing', async () => {
    await ensureDashboardBuilt();
    const [http, device, nats, natsWs, natsMon, flask, rpc, radio] = (await freePorts(8)) as number[] as [number, number, number, number, number, number, number, number];
    proc = spawnLifeline(['up', '--demo'], {
      ...upEnv(dataDir, { http, device, nats, natsWs, natsMonitor: natsMon }),
      LIFELINE_DEMO_FLASK_PORT: String(flask),
      LIFELINE_DEMO_RPC_PORT: String(rpc),
      LIFELINE_DEMO_RADIO_PORT: String(radio),
    });
    const started = Date.now();
    await proc.waitForOutput('Lifeline is up', 30_000);
    const httpUrl = `http://127.0.0.1:${http}`;
    const dashboard = await wsProbe(httpUrl); // a dashboard: the `client` kind
    const admin = await connectAs({ url: `nats://127.0.0.1:${nats}`, credentials: await loadOrCreateCredentials(dataDir) }, 'admin', 'newcomer-test', 10_000);
    try {
      const kinds = ['device', 'telemetry', 'child', 'rpc', 'link', 'client'];
      await waitFor(
        async () => {
          const actors = (await (await fetch(`${httpUrl}/api/actors`)).json()) as Array<{ kind: string }>;
          return kinds.every((k) => actors.some((a) => a.kind === k));
        },
        60_000 - (Date.now() - started),
        'actors of all six kinds',
      );
      const failing = ['device', 'child', 'rpc', 'link'];
      let missing: string[] = failing;
      await waitFor(
        async () => {
          const records = await readRecords(admin.nc);
          missing = failing.filter((k) => !records.some((r) => r.record.kind === k && r.record.error));
          return missing.length === 0;
        },
        Math.max(1_000, 60_000 - (Date.now() - started)),
        'a failure transition of each of device, child, rpc and link',
      ).catch((err: Error) => {
        throw new Error(`${err.message}; missing: ${missing.join(', ')}`);
      });
      const dash = await fetch(`${httpUrl}/dashboard/`);
      expect(dash.status).toBe(200);
    } finally {
      await dashboard.close();
      await admin.close();
    }

    const code = await proc.kill('SIGINT');
    expect(code).toBe(0);
    expect(proc.output()).toContain('stopping nats-server');
    for (const port of [http, device, nats, flask!, rpc!, radio!]) expect(await refused(port!)).toBe(true);
    const leftovers = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(dataDir));
    expect(leftovers).toEqual([]);
  }, 120_000);
});
