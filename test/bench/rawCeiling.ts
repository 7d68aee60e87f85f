/**
 * The raw ceiling of this machine, measured at the start of every `npm run bench`: the same
 * hops as Lifeline's measured paths, with none of Lifeline's work. Every other benchmark's
 * headline figure is set against one of these in RESULTS.md (figure `ceiling` → `key`).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DiscardPolicy, jetstream, RetentionPolicy, StorageType, jetstreamManager } from '@nats-io/jetstream';
import WebSocket from 'ws';
import { freePorts } from '../../infra/nats/index.ts';
import { connectAs } from '../../services/cli/natsEndpoint.ts';
import { CEILING } from './lib/ceilingKeys.ts';
import { spawnTsx, type ChildHandle } from './lib/children.ts';
import { startBenchNats } from './lib/nats.ts';
import { procMemory } from './lib/proc.ts';
import type { Benchmark, BenchOptions, BenchOutcome, Figure } from './lib/report.ts';
import { mapBounded, Scope, sleep, waitUntil } from './lib/scope.ts';
import { distribution, fmt, median } from './lib/stats.ts';

const FLASK_APP = fileURLToPath(new URL('../../infra/flask-app/app.py', import.meta.url));
const STREAM = 'BENCH_CEILING';
const OUT_SUBJECT = 'bench.ceiling.out';
const DEVICES_PER_FLEET_PROCESS = 5_000;


function sizes(quick: boolean) {
  return quick
    ? { singles: 50, burstMessages: 20, fanout: 5, rounds: 2, clients: 100, fanoutMessages: 10, devices: 1_000, flaskRuns: 2 }
    : { singles: 200, burstMessages: 100, fanout: 5, rounds: 3, clients: 1_000, fanoutMessages: 20, devices: 10_000, flaskRuns: 5 };
}

export const rawCeiling: Benchmark = {
  id: 'ceiling',
  title: 'Raw ceiling of this machine (no Lifeline)',
  measures: [
    'The hops Lifeline’s measured paths take, each process doing nothing but pass the message on, on the same',
    'machine and nats-server version as the benchmarks that follow. **Relay chain** (stands for gateway → projector →',
    'hub → dashboard): the bench process publishes to a JetStream file stream; a plain durable pull consumer in its own',
    'process (AckPolicy.All) re-publishes each message on core NATS, `fanout` times; a relay process subscribed to that',
    'subject sends each to every WebSocket client (`ws`); the clients live in the bench process. *Single*: one message at',
    'a time, 50 a second, fanout 1 (telemetry’s path). *Burst*: `burst messages` published at once, each re-published',
    '5 times (the failure benchmark’s 100 failed devices × 5 flows). *Fan-out*: a core publish relayed to every one of',
    '`clients` WebSockets (the hub benchmark’s path). **TCP memory**: RSS per connection of a bare Node TCP server',
    'that answers the device hello and holds the socket, with the same simulated fleet as the gateway memory benchmark.',
    '**Process start**: Debian python3 starting the Flask app (infra/flask-app) until `/health` answers 200, the floor',
    'under a child restart.',
  ].join(' '),
  setup: (quick) => {
    const s = sizes(quick);
    return { 'single messages': s.singles, 'burst messages': s.burstMessages, 'burst fanout': s.fanout, 'burst rounds': s.rounds, 'fan-out clients': s.clients, devices: s.devices, 'Flask starts': s.flaskRuns };
  },
  run: runRawCeiling,
};

interface WsClient {
  ws: WebSocket;
  onMessage(handler: (text: string, at: number) => void): void;
}

async function connectClient(url: string): Promise<WsClient> {
  const ws = new WebSocket(url);
  let handler: ((text: string, at: number) => void) | undefined;
  ws.on('message', (data) => handler?.(data.toString(), performance.now()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, onMessage: (h) => (handler = h) };
}

async function runRawCeiling(options: BenchOptions): Promise<BenchOutcome> {
  const s = sizes(options.quick);
  const scope = new Scope();
  const figures: Figure[] = [];
  const notes: string[] = [];
  try {
    const nats = await startBenchNats(scope, 'ceiling');
    const jsm = await jetstreamManager(nats.admin.nc);
    await jsm.streams.add({ name: STREAM, subjects: ['bench.ceiling.in.>'], retention: RetentionPolicy.Limits, storage: StorageType.File, discard: DiscardPolicy.Old, num_replicas: 1 });
    const admin = nats.server.credentials.admin;
    const [wsPort, tcpPort] = (await freePorts(2)) as [number, number];
    const relayArgs = [nats.server.url, admin.user, admin.password];
    const consumer = spawnTsx(scope, 'raw-js-to-core', 'test/bench/rawRelay.ts', ['js-to-core', ...relayArgs, STREAM, 'ceiling', OUT_SUBJECT], join(nats.dir, 'js-to-core.log'));
    const relay = spawnTsx(scope, 'raw-core-to-ws', 'test/bench/rawRelay.ts', ['core-to-ws', ...relayArgs, OUT_SUBJECT, String(wsPort)], join(nats.dir, 'core-to-ws.log'));
    await Promise.all([consumer.waitForLine(/^ready$/, 20_000), relay.waitForLine(/^ready$/, 20_000)]);
    const publisher = await connectAs(nats.endpoint, 'admin', 'bench-ceiling-publisher', 10_000);
    scope.defer('close the publisher', () => publisher.close());
    const js = jetstream(publisher.nc);
    const url = `ws://127.0.0.1:${wsPort}/`;
    const first = await connectClient(url);
    scope.defer('close the first client', () => first.ws.terminate());

    // relay chain, one message at a time (telemetry's path)
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    first.onMessage((text, at) => {
      const t0 = sentAt.get(text.slice(0, text.lastIndexOf(':')));
      if (t0 !== undefined) latencies.push(at - t0);
    });
    for (let i = 0; i < s.singles; i++) {
      const id = `s${i}`;
      sentAt.set(id, performance.now());
      await js.publish(`bench.ceiling.in.${i % 10}`, `${id};1`);
      await sleep(20);
    }
    await waitUntil('single messages relayed', () => latencies.length >= s.singles, 10_000);
    const single = distribution(latencies);
    figures.push(
      { key: CEILING.singleP50, name: 'relay chain, one message at a time: p50', value: single.p50, unit: 'ms', decimals: 2 },
      { key: CEILING.singleP99, name: 'relay chain, one message at a time: p99', value: single.p99, unit: 'ms', decimals: 2 },
    );

    // relay chain, a burst (the failure benchmark's shape)
    const rounds: Array<ReturnType<typeof distribution>> = [];
    for (let round = 1; round <= s.rounds; round++) {
      latencies.length = 0;
      const expected = s.burstMessages * s.fanout;
      const publishes: Array<Promise<unknown>> = [];
      for (let i = 0; i < s.burstMessages; i++) {
        const id = `b${round}-${i}`;
        sentAt.set(id, performance.now());
        publishes.push(js.publish(`bench.ceiling.in.${i % 10}`, `${id};${s.fanout}`));
      }
      await Promise.all(publishes);
      await waitUntil(`burst ${round} relayed`, () => latencies.length >= expected, 10_000);
      rounds.push(distribution(latencies));
      await sleep(1_000);
    }
    const burst = rounds[0]!;
    figures.push(
      { key: CEILING.burstP50, name: `relay chain, burst of ${s.burstMessages} × ${s.fanout}: p50`, value: burst.p50, unit: 'ms', decimals: 1 },
      { key: CEILING.burstP99, name: `relay chain, burst of ${s.burstMessages} × ${s.fanout}: p99`, value: burst.p99, unit: 'ms', decimals: 1 },
    );
    notes.push(`Burst rounds (p50 / p99 / max, ms): ${rounds.map((r) => `${fmt(r.p50)} / ${fmt(r.p99)} / ${fmt(r.max)}`).join('; ')}; the figures are round 1, as in the failure benchmark.`);

    // fan-out to many WebSocket clients (the hub benchmark's shape)
    const clients = await mapBounded(Array.from({ length: s.clients - 1 }), 50, () => connectClient(url));
    scope.defer('close the clients', () => clients.forEach((c) => c.ws.terminate()));
    const all = [first, ...clients];
    const fanoutLatencies: number[] = [];
    for (const c of all) {
      c.onMessage((text, at) => {
        const t0 = sentAt.get(text.slice(0, text.lastIndexOf(':')));
        if (t0 !== undefined) fanoutLatencies.push(at - t0);
      });
    }
    for (let i = 0; i < s.fanoutMessages; i++) {
      const id = `f${i}`;
      sentAt.set(id, performance.now());
      publisher.nc.publish(OUT_SUBJECT, `${id}:0`);
      await sleep(200);
    }
    await waitUntil('fan-out relayed', () => fanoutLatencies.length >= s.fanoutMessages * all.length, 15_000);
    const fanout = distribution(fanoutLatencies);
    figures.push(
      { key: CEILING.fanoutP50, name: `core publish → ${s.clients.toLocaleString('en-US')} WebSockets: p50`, value: fanout.p50, unit: 'ms', decimals: 1 },
      { key: CEILING.fanoutP99, name: `core publish → ${s.clients.toLocaleString('en-US')} WebSockets: p99`, value: fanout.p99, unit: 'ms', decimals: 1 },
    );
    clients.forEach((c) => c.ws.terminate());
    first.ws.terminate();

    figures.push(await tcpMemory(scope, nats.dir, tcpPort, s.devices, options));
    figures.push(await flaskStart(s.flaskRuns, options, notes));
    return { figures, notes };
  } finally {
    const problems = await scope.close();
    for (const p of problems) options.log(`cleanup: ${p}`);
  }
}

async function tcpMemory(scope: Scope, dir: string, port: number, devices: number, options: BenchOptions): Promise<Figure> {
  const server: ChildHandle = spawnTsx(scope, 'raw-tcp-server', 'test/bench/rawTcpServer.ts', [String(port)], join(dir, 'raw-tcp.log'));
  await server.waitForLine(/^ready$/, 20_000);
  await sleep(3_000);
  const before = median(await rssSamples(server.pid, 5));
  const fleets = Math.ceil(devices / DEVICES_PER_FLEET_PROCESS);
  const handles = Array.from({ length: fleets }, (_, i) => {
    const count = Math.min(DEVICES_PER_FLEET_PROCESS, devices - i * DEVICES_PER_FLEET_PROCESS);
    return spawnTsx(scope, `raw-fleet-${i + 1}`, 'test/bench/fleetProcess.ts', [String(port), String(count), `raw${i + 1}-dev`, '100'], join(dir, `raw-fleet-${i + 1}.log`));
  });
  const lines = await Promise.all(handles.map((h) => h.waitForLine(/^(connected|failed) /, 180_000)));
  const failed = lines.find((l) => l.startsWith('failed'));
  if (failed) throw new Error(`a fleet could not connect to the bare TCP server: ${failed}`);
  await sleep(3_000);
  const after = median(await rssSamples(server.pid, 5));
  const perConnection = (after - before) / devices;
  options.log(`bare TCP server: ${perConnection.toFixed(2)} KB per connection`);
  await Promise.all(handles.map((h) => h.stop()));
  await server.stop();
  return { key: CEILING.tcpKbPerConnection, name: `bare TCP server RSS per connection (${devices.toLocaleString('en-US')} devices)`, value: perConnection, unit: 'KB', decimals: 2 };
}

async function rssSamples(pid: number, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) await sleep(500);
    samples.push(procMemory(pid).rssKb);
  }
  return samples;
}

async function flaskStart(runs: number, options: BenchOptions, notes: string[]): Promise<Figure> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [port] = (await freePorts(1)) as [number];
    const started = performance.now();
    const child = spawn('python3', [FLASK_APP], { env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) }, stdio: 'ignore' });
    try {
      await waitUntil(
        'the Flask app to answer /health',
        async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok,
        20_000,
        5,
      );
      times.push(performance.now() - started);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    }
  }
  options.log(`Flask start → /health 200: ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
  notes.push(`Flask start → /health 200, each run (ms): ${times.map((t) => t.toFixed(0)).join(', ')}.`);
  return { key: CEILING.flaskReadyMs, name: 'python3 Flask app: spawn → /health 200, median', value: median(times), unit: 'ms', decimals: 0 };
}
