import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePorts } from '../../infra/nats/index.ts';
import { spawnLifeline, type LifelineProcess } from '../support/lifelineProcess.ts';
import { upEnv } from '../support/upEnv.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * `lifeline up --inspect`, a real process on free ports with a temporary data directory:
 * a WebSocket client connected to the inspector server it prints — as the Stately
 * inspector's bridge page does, and only once the system is up, as a browser would —
 * receives `@xstate.actor` registrations and `@xstate.snapshot`s of the actors `up` hosts
 * (the nats-server supervisor, an RPC poller, an ESP32 link, a device, a dashboard's
 * `client`); SIGINT then leaves no process and closes the inspector's port.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'lifeline-inspect-'));
let proc: LifelineProcess | undefined;
const sockets: Array<{ close(): void }> = [];

afterAll(async () => {
  for (const s of sockets) s.close();
  await proc?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** What the inspector server relays (the fields @statelyai/inspect's events carry). */
interface InspectionMessage {
  type: string;
  sessionId: string;
  name?: string;
  definition?: string;
  snapshot?: { value?: unknown; status?: string };
}

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });

/** Processes whose command line names the data directory (nats-server's store and log live there). */
function processesOf(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', dir]).toString().trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('lifeline up --inspect', () => {
  it('streams actor registrations and snapshots of the running kinds to an inspector client; SIGINT leaves nothing', async () => {
    const [http, device, nats, natsWs, natsMon, inspect, rpcClosed, radioClosed] = (await freePorts(8)) as [number, number, number, number, number, number, number, number];
    // a poller and a link whose peers are absent: they are actors all the same (failing, retrying)
    const configFile = join(dataDir, 'lifeline.config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        pollers: [{ name: 'backend', url: `http://127.0.0.1:${rpcClosed}/rpc`, intervalMs: 500, callTimeoutMs: 400, slowCallMs: 300, openDurationMs: 1_000, probeIntervalMs: 500 }],
        links: [{ name: 'radio', port: radioClosed, backoffMaxMs: 500, slowRetryIntervalMs: 1_000 }],
      }),
    );
    proc = spawnLifeline(['up', '--inspect', '--config', configFile], {
      ...upEnv(dataDir, { http, device, nats, natsWs, natsMonitor: natsMon }),
      LIFELINE_INSPECT_PORT: String(inspect),
    });

    await proc.waitForOutput('Lifeline is up', 90_000);
    const printed = /Stately inspector: (http:\/\/\S+)/.exec(proc.output())?.[1];
    expect(printed).toBe(`http://localhost:${inspect}`);

    // the bridge page the printed URL serves embeds the hosted inspector (hence: needs internet)
    const page = await (await fetch(printed!)).text();
    expect(page).toContain('https://stately.ai/inspect');

    // connect once everything runs, as a browser opening the printed URL later would: the
    // actors started before (the nats-server supervisor, the poller, the link) are
    // announced again, so they are seen all the same
    const messages: InspectionMessage[] = [];
    const inspector = await waitFor(
      () =>
        new Promise<WebSocket | false>((resolve) => {
          const ws = new WebSocket(printed!.replace(/^http/, 'ws'));
          ws.once('open', () => resolve(ws));
          ws.once('error', () => resolve(false));
        }),
      30_000,
      'the inspector server to accept a WebSocket',
    );
    sockets.push(inspector);
    inspector.on('message', (data) => messages.push(JSON.parse(data.toString()) as InspectionMessage));

    // a device and a dashboard make the other kinds appear
    const deviceSocket: Socket = connect({ host: '127.0.0.1', port: device });
    sockets.push({ close: () => deviceSocket.destroy() });
    let deviceLines = '';
    deviceSocket.on('data', (d) => {
      deviceLines += d.toString();
      if (deviceLines.includes('"ping"')) deviceSocket.write('{"type":"pong"}\n');
    });
    deviceSocket.write('{"type":"hello","device":"inspected","nodes":1}\n');
    await waitFor(() => deviceLines.includes('"welcome"'), 30_000, 'the gateway to welcome the device');
    const dashboard = new WebSocket(`ws://127.0.0.1:${http}/ws`);
    sockets.push(dashboard);
    await new Promise((resolve, reject) => dashboard.once('open', resolve).once('error', reject));

    const machines = ['childProcess', 'rpcPoller', 'esp32Link', 'deviceSocket', 'wsClient'];
    const sessionsOf = (name: string): string[] => messages.filter((m) => m.type === '@xstate.actor' && m.name === name).map((m) => m.sessionId);
    await waitFor(
      () => machines.every((name) => sessionsOf(name).some((id) => messages.some((m) => m.type === '@xstate.snapshot' && m.sessionId === id))),
      60_000,
      `@xstate.actor and @xstate.snapshot of ${machines.join(', ')}; seen actors: ${[...new Set(messages.filter((m) => m.type === '@xstate.actor').map((m) => m.name))].join(', ')}`,
    );
    for (const name of machines) {
      const registration = messages.find((m) => m.type === '@xstate.actor' && m.name === name)!;
      // the definition is what the inspector draws the statechart from
      expect(JSON.parse(registration.definition!).id, name).toBe(name);
      const snapshot = messages.find((m) => m.type === '@xstate.snapshot' && m.sessionId === registration.sessionId)!;
      expect(snapshot.snapshot?.value, name).toBeDefined();
    }
    // the poller's circuit opens against the absent backend: the inspector sees it happen
    const pollerSession = sessionsOf('rpcPoller');
    await waitFor(
      () => messages.some((m) => m.type === '@xstate.snapshot' && pollerSession.includes(m.sessionId) && JSON.stringify(m.snapshot?.value).includes('open')),
      60_000,
      'an rpcPoller snapshot in state open',
    );
    expect(messages.some((m) => m.type === '@xstate.event')).toBe(true);

    // a client connecting after the server's 200-message replay buffer has turned over
    // still sees every running machine: live actors are announced again every few seconds
    const before = messages.length;
    await waitFor(() => messages.length - before > 250, 90_000, 'the replay buffer to turn over (250 more messages)');
    const late: InspectionMessage[] = [];
    const lateClient = new WebSocket(printed!.replace(/^http/, 'ws'));
    sockets.push(lateClient);
    lateClient.on('message', (data) => late.push(JSON.parse(data.toString()) as InspectionMessage));
    await waitFor(
      () => machines.every((name) => late.some((m) => m.type === '@xstate.actor' && m.name === name)),
      30_000,
      `every machine announced to a late client; it saw: ${[...new Set(late.filter((m) => m.type === '@xstate.actor').map((m) => m.name))].join(', ')}`,
    );

    for (const s of sockets.splice(0)) s.close();
    expect(await proc.kill('SIGINT')).toBe(0);
    expect(processesOf(dataDir)).toEqual([]);
    expect(await refused(inspect)).toBe(true);
    expect(await refused(http)).toBe(true);
    expect(await refused(nats)).toBe(true);
  }, 300_000);
});
