import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePorts, startNatsServer, type NatsServerHandle } from '../../infra/nats/index.ts';
import type { Bus } from '../../services/bus/connection.ts';
import { provision } from '../../services/bus/provision.ts';
import { parseJsonWith } from '../../services/bus/schemas/parse.ts';
import { transitionRecordSchema, type TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { main } from '../../services/cli/main.ts';
import { connectAs } from '../../services/cli/natsEndpoint.ts';
import { spawnLifeline, type LifelineProcess } from '../support/lifelineProcess.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * `lifeline run <service> [name…]` as real processes against NATS_URL (a nats-server of
 * this test, free ports, temporary store): each entry of the configuration file runs
 * alone and records its transitions; only the named entries run; `run telemetry` is the
 * projector; SIGINT stops each one cleanly; a name the file does not declare is an error
 * listing the names it does.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'lifeline-run-'));
const configFile = join(dataDir, 'site.config.json');
let nats: NatsServerHandle;
let admin: Bus;
const records: TransitionRecord[] = [];
const processes: LifelineProcess[] = [];
let childPort = 0;

beforeAll(async () => {
  nats = await startNatsServer({ dataDir });
  admin = await connectAs({ url: nats.url, credentials: nats.credentials }, 'admin', 'run-test-admin', 10_000);
  await provision(admin.nc);
  admin.nc.subscribe('conn.>', {
    callback: (_err, msg) => {
      const parsed = parseJsonWith(transitionRecordSchema, 'record', msg.data);
      if (parsed.ok) records.push(parsed.value);
    },
  });
  await admin.nc.flush();
  const [web, rpcClosed, radioClosed] = (await freePorts(3)) as [number, number, number];
  childPort = web;
  const server = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), process.env.HOST)";
  writeFileSync(
    configFile,
    JSON.stringify({
      children: [{ name: 'web', command: process.execPath, args: ['-e', server], port: web, healthCheckInterval: 100 }],
      links: [{ name: 'radio', port: radioClosed, backoffInitialMs: 200, backoffMaxMs: 500 }],
      pollers: [
        { name: 'backend', url: `http://127.0.0.1:${rpcClosed}/rpc`, intervalMs: 300, callTimeoutMs: 250, slowCallMs: 200 },
        { name: 'other', url: `http://127.0.0.1:${rpcClosed}/rpc` },
      ],
    }),
  );
}, 60_000);

afterAll(async () => {
  for (const p of processes) await p.kill('SIGKILL');
  await admin?.close().catch(() => {});
  await nats?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const run = (...args: string[]): LifelineProcess => {
  const p = spawnLifeline(['run', ...args, '--config', configFile, '--data-dir', dataDir], { NATS_URL: nats.url, LIFELINE_INSPECT_PORT: '' });
  processes.push(p);
  return p;
};

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });

const recorded = (kind: string, id: string, to?: (state: string) => boolean): TransitionRecord | undefined =>
  records.find((r) => r.kind === kind && r.id === id && (!to || to(r.to)));

describe('lifeline run <service> [name…]', () => {
  it('runs each declared entry alone against NATS_URL, records its transitions, and stops on SIGINT', async () => {
    const child = run('child', 'web');
    const link = run('link', 'radio');
    const [inspectPort] = (await freePorts(1)) as [number];
    const poller = run('poller', 'backend', '--inspect', '--inspect-port', String(inspectPort));
    const telemetry = run('telemetry');
    await Promise.all([
      telemetry.waitForOutput('projector running', 60_000),
      child.waitForOutput('child web running', 60_000),
      link.waitForOutput('esp32-link radio running', 60_000),
      poller.waitForOutput('rpc-poller backend running', 60_000),
    ]);

    await waitFor(() => recorded('child', 'web', (s) => s.startsWith('ready')), 60_000, 'child web ready');
    expect(await refused(childPort)).toBe(false);
    await waitFor(() => recorded('link', 'radio', (s) => s.startsWith('reconnecting') || s.startsWith('failed')), 60_000, 'link radio retrying its absent radio');
    await waitFor(() => recorded('rpc', 'backend', (s) => s.startsWith('open')), 60_000, 'poller backend: circuit open');
    // only the named poller runs
    expect(recorded('rpc', 'other')).toBeUndefined();
    // --inspect: the poller's actor is on that process's inspector server
    const inspected: Array<{ type: string; name?: string }> = [];
    const inspector = new WebSocket(`ws://127.0.0.1:${inspectPort}`);
    inspector.on('message', (data) => inspected.push(JSON.parse(data.toString()) as { type: string; name?: string }));
    await waitFor(() => inspected.some((m) => m.type === '@xstate.actor' && m.name === 'rpcPoller'), 60_000, 'rpcPoller on the inspector');
    inspector.close();

    // `run telemetry` is the projector (the telemetry ingest)
    expect(telemetry.output()).toContain('the telemetry ingest is the projector');

    expect(await Promise.all([child, link, poller, telemetry].map((p) => p.kill('SIGINT')))).toEqual([0, 0, 0, 0]);
    await waitFor(() => recorded('child', 'web', (s) => s === 'stopped'), 10_000, 'child web recorded stopped');
    expect(await refused(childPort)).toBe(true); // the supervised child is gone with its supervisor
  }, 240_000);

  it('a name not in the configuration file: exit 2, listing the names available', async () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      expect(await main(['run', 'poller', 'backnd', '--config', configFile, '--data-dir', dataDir, '--nats-url', nats.url])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(written.join('')).toContain(`poller "backnd" not declared under "pollers" in ${configFile}; available: backend, other`);
  });
});
