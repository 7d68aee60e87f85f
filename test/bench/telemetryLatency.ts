/**
 * Telemetry benchmark (issue 4): publisher → dashboard latency at 50 updates a second, and
 * the time from the NATS server's return (after a SIGKILL) to the first fresh update on
 * the dashboard.
 *
 * The "dashboard" is a WebSocket client (ws) joined to the session on the hub's `/ws`,
 * not a browser. Path: publisher machine → JetStream TELEMETRY → projector (validate,
 * write `sessions`) → `broadcast.session.<token>` → hub → WebSocket.
 *
 * Callable by the bench runner as `telemetryLatency.run(options)` (id `telemetry`), or
 * alone: `node --import tsx test/bench/telemetryLatency.ts [--quick]`.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { freePorts } from '../../infra/nats/index.ts';
import { loadRuntimeConfig } from '../../services/cli/config.ts';
import { startHubService } from '../../services/cli/services/hubService.ts';
import { startProjectorService } from '../../services/cli/services/projectorService.ts';
import { openRecordingConnection } from '../../services/cli/services/recordingConnection.ts';
import { startTelemetryPublisher } from '../../services/telemetry/telemetryPublisher.ts';
import { startBenchNats } from './lib/nats.ts';
import { runIfEntryPoint } from './lib/standalone.ts';
import { CEILING } from './lib/ceilingKeys.ts';
import type { BenchOptions, BenchOutcome, Benchmark, Figure } from './lib/report.ts';
import { Scope, sleep, waitUntil } from './lib/scope.ts';
import { distribution, fmt } from './lib/stats.ts';

const RATE_HZ = 50;
const SESSION = 'bench-race';
const OUTAGE_MS = 2_000;

function sizes(quick: boolean) {
  return quick ? { seconds: 10, outages: 2 } : { seconds: 30, outages: 5 };
}

async function runTelemetryLatency(options: BenchOptions): Promise<BenchOutcome> {
  const { seconds, outages } = sizes(options.quick);
  const scope = new Scope();
  try {
    const nats = await startBenchNats(scope, 'telemetry');
    const projector = await startProjectorService(nats.endpoint);
    scope.defer('stop the projector', () => projector.stop());
    const [httpPort] = await freePorts(1);
    const config = loadRuntimeConfig({ dataDir: nats.dir, natsUrl: nats.server.url, httpPort }, {});
    const hub = await startHubService(nats.endpoint, config);
    scope.defer('stop the hub', () => hub.stop());
    const recording = await openRecordingConnection(nats.endpoint, 'telemetry', 'bench-telemetry');
    scope.defer('close the recording connection', () => recording.close());
    const creds = nats.endpoint.credentials!.telemetry;
    const publisher = startTelemetryPublisher({
      servers: nats.endpoint.url,
      user: creds.user,
      pass: creds.password,
      sessionId: SESSION,
      setup: { track: 'bench' },
      sink: recording.outbox,
    });
    scope.defer('stop the publisher', () => publisher.stop());

    // the n-th publish() is sample seq n (one incarnation): when each was produced
    const producedAt: number[] = [0];
    const publish = (): void => {
      producedAt.push(performance.now());
      publisher.publish({ lap: 1, fuel: 50, position: 3, speed: 200 });
    };
    publish();
    await waitUntil('first sample stored', () => publisher.stats().published >= 1, 10_000);
    await sleep(500); // the projector writes the session

    const received = new Map<number, number>();
    const ws = new WebSocket(`${hub.hub.url.replace('http', 'ws')}/ws`);
    scope.defer('close the dashboard socket', () => ws.close());
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { type: string; part?: string; value?: { seq?: number } };
      if (m.type === 'session_update' && m.part === 'telemetry' && typeof m.value?.seq === 'number' && !received.has(m.value.seq)) {
        received.set(m.value.seq, performance.now());
      }
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ type: 'join_session', session_id: SESSION }));
    await sleep(300);

    // --- steady state at 50 updates/s
    options.log(`steady: ${seconds} s at ${RATE_HZ}/s`);
    const firstSteady = producedAt.length;
    const ticker = setInterval(publish, 1000 / RATE_HZ);
    await sleep(seconds * 1000);
    clearInterval(ticker);
    const lastSteady = producedAt.length - 1;
    await sleep(1_000);
    const latencies: number[] = [];
    let lost = 0;
    for (let seq = firstSteady; seq <= lastSteady; seq++) {
      const at = received.get(seq);
      if (at === undefined) lost += 1;
      else latencies.push(at - producedAt[seq]!);
    }
    const d = distribution(latencies);

    // --- NATS killed and back: time to the first fresh update
    const returns: number[] = [];
    const backlogDone: number[] = [];
    for (let i = 0; i < outages; i++) {
      const t = setInterval(publish, 1000 / RATE_HZ);
      await sleep(500);
      await nats.server.kill('SIGKILL');
      await sleep(OUTAGE_MS);
      await nats.server.restart(); // resolves once /healthz answers
      const back = performance.now();
      const firstFresh = producedAt.length; // the first sample produced after the return
      await waitUntil(`fresh update after outage ${i + 1}`, () => received.has(firstFresh), 90_000, 5);
      returns.push(received.get(firstFresh)! - back);
      clearInterval(t);
      const last = producedAt.length - 1;
      await waitUntil('backlog delivered', () => received.has(last), 30_000);
      backlogDone.push(received.get(last)! - back);
      options.log(`outage ${i + 1}: first fresh update ${fmt(returns.at(-1)!)} ms after the server's return`);
      await sleep(1_000);
    }
    const r = distribution(returns);
    const figures: Figure[] = [
      { name: 'publisher → dashboard latency p50', value: d.p50, unit: 'ms', decimals: 2, target: '< 50 ms', pass: d.p50 < 50, ceiling: CEILING.singleP50 },
      { name: 'publisher → dashboard latency p99', value: d.p99, unit: 'ms', decimals: 2, target: '< 200 ms', pass: d.p99 < 200, ceiling: CEILING.singleP99 },
      { name: 'updates lost at 50/s', value: lost, unit: 'updates', decimals: 0, target: '0', pass: lost === 0 },
      { name: 'NATS return → first fresh update, median', value: r.p50, unit: 'ms', decimals: 0 },
      { name: 'NATS return → first fresh update, max', value: r.max, unit: 'ms', decimals: 0 },
    ];
    return {
      figures,
      notes: [
        `${latencies.length} samples at ${RATE_HZ}/s; the dashboard is a ws client on /ws (not a browser)`,
        `outage ${OUTAGE_MS} ms ×${outages}; the publisher's default backoff (full jitter, 1 s → 60 s) dominates the return time; backlog fully delivered within ${backlogDone.map((x) => fmt(x, 0)).join(', ')} ms`,
      ],
    };
  } finally {
    const problems = await scope.close();
    for (const p of problems) options.log(`cleanup: ${p}`);
  }
}

/** Not yet in BENCH_IDS (test/bench/lib/report.ts): the runner's owner adds `telemetry`. */
export const telemetryLatency: Omit<Benchmark, 'id'> & { id: 'telemetry' } = {
  id: 'telemetry',
  title: 'Telemetry: publisher → dashboard latency, recovery after a NATS restart',
  measures: [
    `Latency from the publisher's publish() to the dashboard's WebSocket receiving that sample, at ${RATE_HZ} updates/s`,
    '(publisher → JetStream TELEMETRY → projector → broadcast → hub → ws client); and time from the NATS server being',
    `back (healthz) after a ${OUTAGE_MS} ms SIGKILL outage to the first sample produced after the return reaching the dashboard.`,
  ].join(' '),
  setup: (quick) => ({ 'rate (Hz)': RATE_HZ, seconds: sizes(quick).seconds, outages: sizes(quick).outages, 'outage (ms)': OUTAGE_MS }),
  run: runTelemetryLatency,
};

export { runTelemetryLatency };

await runIfEntryPoint(import.meta.url, telemetryLatency);
