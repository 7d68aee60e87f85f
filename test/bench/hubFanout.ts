/**
 * Hub fan-out benchmark (issue 5): 1,000 WebSocket clients subscribed while the RPC
 * backend flaps (down / healthy every few seconds). Measures the broadcast fan-out latency,
 * the hub process's CPU and RSS, and the time from the backend's recovery to fresh data
 * (`is_stale: false`) at the clients.
 *
 * Callable by the bench runner as `hubFanout.run(options)` (a `Benchmark` with id `hub`),
 * or alone: `node --import tsx test/bench/hubFanout.ts [--quick]`.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { freePorts } from '../../infra/nats/index.ts';
import { startRpcBackend } from '../../infra/rpc-backend/index.ts';
import { startPollerServices } from '../../services/cli/services/rpcPollerServices.ts';
import { startProjectorService } from '../../services/cli/services/projectorService.ts';
import { pollerSpecSchema } from '../../services/rpc-poller/pollerSpec.ts';
import { startBenchNats } from './lib/nats.ts';
import { runIfEntryPoint } from './lib/standalone.ts';
import { cpuTimeMs, procMemory } from './lib/proc.ts';
import { CEILING } from './lib/ceilingKeys.ts';
import type { BenchOptions, BenchOutcome, Benchmark, Figure } from './lib/report.ts';
import { mapBounded, Scope, sleep, waitUntil } from './lib/scope.ts';
import { distribution, fmt, percentile } from './lib/stats.ts';

const BIN = fileURLToPath(new URL('../../bin/lifeline.js', import.meta.url));
const POLLER = { intervalMs: 250, callTimeoutMs: 1_000, slowCallMs: 800, failureThreshold: 3, openDurationMs: 2_000, probeIntervalMs: 500, halfOpenProbes: 2 };

function sizes(quick: boolean) {
  return quick ? { clients: 200, flaps: 2, flapMs: 4_000 } : { clients: 1_000, flaps: 4, flapMs: 6_000 };
}

interface Client {
  ws: WebSocket;
  /** Per data message (`poller.method@cached_at`) the time it arrived. */
  arrivals: Map<string, number>;
  fresh: number[];
  closed: boolean;
}

async function connectClient(url: string): Promise<Client> {
  const ws = new WebSocket(url);
  const client: Client = { ws, arrivals: new Map(), fresh: [], closed: false };
  ws.on('message', (data) => {
    const t = performance.now();
    const text = data.toString();
    if (!text.includes('"is_stale"')) return;
    const f = JSON.parse(text) as { method: string; cached_at?: string; is_stale: boolean };
    // the first (fresh) delivery of each result; re-sends of the cache (stale, recovered) are not fan-out samples
    const key = `${f.method}@${f.cached_at}`;
    if (f.cached_at && !f.is_stale && !client.arrivals.has(key)) client.arrivals.set(key, t);
    if (!f.is_stale) client.fresh.push(t);
  });
  ws.on('close', () => (client.closed = true));
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return client;
}

async function runHubFanout(options: BenchOptions): Promise<BenchOutcome> {
  const { clients: N, flaps, flapMs } = sizes(options.quick);
  const scope = new Scope();
  try {
    const nats = await startBenchNats(scope, 'hub');
    const projector = await startProjectorService(nats.endpoint);
    scope.defer('stop the projector', () => projector.stop());
    const backend = await startRpcBackend({ port: 0 });
    scope.defer('close the backend', () => backend.close());
    const pollers = await startPollerServices(nats.endpoint, [pollerSpecSchema.parse({ name: 'bench', url: backend.url, ...POLLER })]);
    scope.defer('stop the poller', () => Promise.all(pollers.map((p) => p.stop())));

    // the hub in its own process, so its CPU and RSS are its own
    const [httpPort] = await freePorts(1);
    const hub = spawn(process.execPath, [BIN, 'run', 'hub'], {
      env: { ...process.env, NATS_URL: nats.server.url, LIFELINE_DATA_DIR: nats.dir, LIFELINE_HTTP_PORT: String(httpPort), LIFELINE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    hub.stdout.on('data', (d: Buffer) => (out += d.toString()));
    hub.stderr.on('data', (d: Buffer) => (out += d.toString()));
    scope.defer('stop the hub', () => new Promise<void>((resolve) => {
      if (hub.exitCode !== null) return resolve();
      hub.once('exit', () => resolve());
      hub.kill('SIGTERM');
      setTimeout(() => hub.kill('SIGKILL'), 10_000).unref();
    }));
    await waitUntil('hub running', () => out.includes('hub running'), 20_000, 50, () => out.slice(-500));
    const pid = hub.pid!;
    const url = `ws://127.0.0.1:${httpPort}/ws`;

    options.log(`connecting ${N} clients`);
    const clients = await mapBounded(Array.from({ length: N }), 50, () => connectClient(url));
    scope.defer('close the clients', () => clients.forEach((c) => c.ws.terminate()));
    await sleep(2_000);

    const cpu0 = cpuTimeMs(pid);
    const t0 = performance.now();
    const recovery: number[] = [];
    const recoveryAll: number[] = [];
    let rssPeakKb = 0;
    const sampler = setInterval(() => {
      try {
        rssPeakKb = Math.max(rssPeakKb, procMemory(pid).rssKb);
      } catch {
        /* exited */
      }
    }, 250);
    scope.defer('stop the RSS sampler', () => clearInterval(sampler));
    for (let i = 0; i < flaps; i++) {
      options.log(`flap ${i + 1}/${flaps}: backend down for ${flapMs} ms`);
      await backend.setFault({ mode: 'down' });
      await sleep(flapMs);
      await backend.setFault({ mode: 'healthy' });
      const upAt = performance.now();
      const firstFresh = await mapBounded(clients, 1_000, (c) =>
        waitUntil('fresh data after recovery', () => c.fresh.find((t) => t > upAt), POLLER.openDurationMs + 15_000, 5),
      );
      const delays = firstFresh.map((t) => t - upAt);
      recovery.push(distribution(delays).p50);
      recoveryAll.push(Math.max(...delays));
      await sleep(flapMs);
    }
    const wallMs = performance.now() - t0;
    const cpuMs = cpuTimeMs(pid) - cpu0;
    const rss = procMemory(pid).rssKb;

    // fan-out: for each data message, every client's arrival against the first client's
    const spread: number[] = [];
    for (const [key, first] of clients[0]!.arrivals) {
      const times = clients.map((c) => c.arrivals.get(key)).filter((t): t is number => t !== undefined);
      if (times.length < N) continue;
      const min = Math.min(first, ...times);
      for (const t of times) spread.push(t - min);
    }
    // end to end: poller's call end (cached_at, same clock) → arrival, first client
    const e2e: number[] = [];
    const origin = Date.now() - performance.now();
    for (const [key, t] of clients[0]!.arrivals) e2e.push(origin + t - Date.parse(key.split('@')[1]!));
    // up to N × messages samples: too many for distribution()'s Math.min(...spread)
    const fan = { count: spread.length, p50: percentile(spread, 50), p99: percentile(spread, 99), max: spread.reduce((a, b) => Math.max(a, b), 0) };
    const end = distribution(e2e);
    const dropped = clients.filter((c) => c.closed).length;
    const rec = distribution(recovery);
    const recAll = distribution(recoveryAll);

    const figures: Figure[] = [
      { name: `fan-out to ${N} clients (first → each client), p50`, value: fan.p50, unit: 'ms', decimals: 1 },
      { name: `fan-out to ${N} clients (first → each client), p99`, value: fan.p99, unit: 'ms', decimals: 1, target: '< 100 ms', pass: fan.p99 < 100 },
      { name: 'poller call end → data at a client (end to end), p50', value: end.p50, unit: 'ms', decimals: 1, ceiling: CEILING.fanoutP50 },
      { name: 'poller call end → data at a client (end to end), p99', value: end.p99, unit: 'ms', decimals: 1, ceiling: CEILING.fanoutP99 },
      { name: 'hub CPU while flapping', value: (100 * cpuMs) / wallMs, unit: '% of a core', decimals: 1 },
      { name: `hub RSS with ${N} clients (peak)`, value: Math.max(rss, rssPeakKb) / 1024, unit: 'MiB', decimals: 1 },
      { name: 'backend recovery → fresh data at clients, p50 over clients (median of flaps)', value: rec.p50, unit: 'ms', decimals: 0 },
      {
        name: 'backend recovery → fresh data at every client (worst flap)',
        value: recAll.max,
        unit: 'ms',
        decimals: 0,
        target: `≤ openDuration + 2 s (${POLLER.openDurationMs + 2_000} ms)`,
        pass: recAll.max <= POLLER.openDurationMs + 2_000,
      },
      { name: 'clients dropped', value: dropped, unit: '', target: '0', pass: dropped === 0 },
    ];
    const notes = [
      `${fan.count} arrivals over ${spread.length ? Math.round(fan.count / N) : 0} data messages seen by all ${N} clients; fan-out = each client's arrival minus the earliest arrival of the same message (all clients in the bench process, the hub in its own). Max ${fmt(fan.max, 1)} ms.`,
      `End to end includes the poller's outbox, JetStream, the projector's batch and KV write, the broadcast and the hub's send: ${end.count} messages, max ${fmt(end.max, 1)} ms.`,
      `Recovery: the backend goes down for ${flapMs} ms (the circuit opens after 3 failures, stays open ${POLLER.openDurationMs} ms, then 2 trial calls); the figure is from the backend answering again to the first is_stale:false message at each client, so it includes up to one open period. Per flap p50: ${recovery.map((r) => fmt(r, 0)).join(', ')} ms; worst client per flap: ${recoveryAll.map((r) => fmt(r, 0)).join(', ')} ms.`,
      `CPU: ${fmt(cpuMs, 0)} ms of hub CPU over ${fmt(wallMs / 1000, 1)} s (poll interval ${POLLER.intervalMs} ms, 4 methods, heartbeat 10 s).`,
    ];
    return { figures, notes };
  } finally {
    const problems = await scope.close();
    for (const p of problems) options.log(`cleanup: ${p}`);
  }
}

/** For the bench runner: `hubFanout.run(options)`. The id `hub` is not yet one of report.ts's BENCH_IDS. */
export const hubFanout: Omit<Benchmark, 'id'> & { id: 'hub' } = {
  id: 'hub',
  title: 'Hub: fan-out to 1,000 WebSocket clients while the RPC backend flaps',
  measures: [
    'Broadcast fan-out latency (p50/p99) of the RPC data messages to every connected client, the hub process\'s CPU and RSS,',
    'and the time from the backend answering again to fresh data (`is_stale: false`) at the clients. Real JSON-RPC backend',
    '(down/healthy), poller with its circuit breaker, projector writing rpc_cache, the hub as its own process, real `ws` clients.',
  ].join(' '),
  setup: (quick) => ({ clients: sizes(quick).clients, flaps: sizes(quick).flaps, 'down/up ms': sizes(quick).flapMs, ...POLLER }),
  run: runHubFanout,
};

export { runHubFanout };

await runIfEntryPoint(import.meta.url, hubFanout);
