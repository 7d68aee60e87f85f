import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  replicasCurrent,
  startNatsCluster,
  streamReplicaStatus,
  type NatsClusterHandle,
} from '../../infra/cluster/index.ts';
import { startNatsServer, type Credentials } from '../../infra/nats/index.ts';
import type { Benchmark, BenchOptions, BenchOutcome, Figure } from './lib/report.ts';
import { Scope, sleep, waitUntil } from './lib/scope.ts';
import { runIfEntryPoint } from './lib/standalone.ts';
import { distribution, fmt, median } from './lib/stats.ts';

const STREAM = 'BENCH_REPL';
const SUBJECT = 'bench.repl.>';
/** About the size of a transition record. */
const PAYLOAD = new TextEncoder().encode(JSON.stringify({ v: 1, kind: 'device', id: '127.0.0.1:bench', context: { pad: 'x'.repeat(200) } }));
const PROBE_TIMEOUT_MS = 250;

function sizes(quick: boolean) {
  return quick ? { singles: 300, burst: 2_000, window: 100, kills: 1 } : { singles: 2_000, burst: 20_000, window: 100, kills: 3 };
}

/**
 * `npm run bench -- cluster`: what three replicas cost and what they buy. (1) JetStream
 * publish → ack latency and windowed throughput to an R1 stream on a single nats-server,
 * and to an R3 stream on the 3-node cluster of infra/cluster (from the stream leader's
 * node and from a follower's); (2) the stream leader's node SIGKILLed: time until a new
 * leader answers, until a publish from a client on that node is acknowledged again, and
 * until the restarted node is current.
 */
export const clusterReplication: Omit<Benchmark, 'id'> & { id: 'cluster' } = {
  id: 'cluster',
  title: 'NATS cluster: R3 vs R1 publish cost, leader failover',
  measures: [
    'Publish: one JetStream publish at a time (each awaits its ack; ~300-byte records with a Nats-Msg-Id, file storage),',
    'then a window of async publishes kept full for the burst; to an R1 stream on a single nats-server (the bundled nats.conf)',
    'and to an R3 stream on the 3-node loopback cluster of infra/cluster, the client on the leader’s node, then on a follower’s.',
    'Failover: the R3 stream’s leader node is SIGKILLed while a client on that node publishes every 20 ms (it reconnects to',
    'the others); measured from the kill to a new leader answering stream info (probed every 250 ms at most), to the first',
    'acknowledged publish, and, after the node is restarted on its store, to every replica being current. All on one machine:',
    'replication here costs CPU and loopback hops, not a network’s round trips.',
  ].join(' '),
  setup: (quick) => {
    const s = sizes(quick);
    return { 'single publishes': s.singles, 'burst publishes': s.burst, window: s.window, kills: s.kills };
  },
  run: runClusterReplication,
};

interface PublishFigures {
  p50: number;
  p99: number;
  rate: number;
}

async function measurePublishes(nc: NatsConnection, label: string, s: ReturnType<typeof sizes>): Promise<PublishFigures> {
  const js = jetstream(nc);
  // warm up (JIT, the stream's first file blocks) before anything is timed
  for (let i = 0; i < s.window * 5; i++) await js.publish(`bench.repl.${label}`, PAYLOAD, { msgID: `${label}:warm:${i}` });
  const latencies: number[] = [];
  for (let i = 0; i < s.singles; i++) {
    const t0 = performance.now();
    await js.publish(`bench.repl.${label}`, PAYLOAD, { msgID: `${label}:single:${i}` });
    latencies.push(performance.now() - t0);
  }
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < s.burst) {
      const i = next++;
      await js.publish(`bench.repl.${label}`, PAYLOAD, { msgID: `${label}:burst:${i}` });
    }
  };
  await Promise.all(Array.from({ length: s.window }, worker));
  const rate = s.burst / ((performance.now() - t0) / 1_000);
  const d = distribution(latencies);
  return { p50: d.p50, p99: d.p99, rate };
}

async function addStream(nc: NatsConnection, replicas: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAM, subjects: [SUBJECT], num_replicas: replicas, duplicate_window: 120 * 1_000_000_000 });
}

function connectAdmin(servers: string | string[], credentials: Credentials, name: string): Promise<NatsConnection> {
  return connect({ servers, user: credentials.admin.user, pass: credentials.admin.password, name, maxReconnectAttempts: -1, reconnectTimeWait: 100, noAsyncTraces: true });
}

async function leaderOf(nc: NatsConnection): Promise<string> {
  return (await streamReplicaStatus(nc, STREAM)).leader;
}

interface FailoverSample {
  leaderMs: number;
  publishMs: number;
  catchUpMs: number;
}

async function killLeader(cluster: NatsClusterHandle, observer: NatsConnection, log: (line: string) => void): Promise<FailoverSample> {
  const leader = await leaderOf(observer);
  const victim = cluster.node(leader);
  // a publisher on the doomed node: it must reconnect, then reach the new leader
  const publisher = await connectAdmin(victim.url, cluster.credentials, 'bench-failover-publisher');
  const js: JetStreamClient = jetstream(publisher, { timeout: 1_000 });
  let firstAckAfterKill: number | undefined;
  let killedAt = Number.POSITIVE_INFINITY;
  let stop = false;
  const publishing = (async () => {
    for (let i = 0; !stop; i++) {
      const sentAt = performance.now();
      try {
        await js.publish('bench.repl.failover', PAYLOAD, { msgID: `failover:${leader}:${Date.now()}:${i}` });
        // only a publish sent after the kill counts (one in flight at the kill may still be acked)
        if (sentAt > killedAt && firstAckAfterKill === undefined) firstAckAfterKill = performance.now();
      } catch {
        // no leader yet, or reconnecting: try again
      }
      await sleep(20);
    }
  })();
  await sleep(200);
  killedAt = performance.now();
  await cluster.kill(victim);
  const newLeaderAt = await waitUntil(
    'a new stream leader',
    async () => {
      try {
        const jsm = await jetstreamManager(observer, { timeout: PROBE_TIMEOUT_MS });
        const info = await jsm.streams.info(STREAM);
        const l = info.cluster?.leader ?? '';
        return l !== '' && l !== leader ? performance.now() : undefined;
      } catch {
        return undefined;
      }
    },
    60_000,
    20,
  );
  await waitUntil('a publish acknowledged after the kill', () => firstAckAfterKill, 60_000, 20);
  stop = true;
  await publishing;
  await publisher.close();
  const restartAt = performance.now();
  await cluster.restart(victim);
  await waitUntil('every replica current', async () => replicasCurrent(await streamReplicaStatus(observer, STREAM).catch(() => ({ stream: STREAM, replicas: 3, leader: '', peers: [] }))), 60_000, 50);
  const sample = { leaderMs: newLeaderAt - killedAt, publishMs: firstAckAfterKill! - killedAt, catchUpMs: performance.now() - restartAt };
  log(`killed ${leader}: new leader after ${fmt(sample.leaderMs, 0)} ms, publish acked after ${fmt(sample.publishMs, 0)} ms, restarted node current after ${fmt(sample.catchUpMs, 0)} ms`);
  return sample;
}

export async function runClusterReplication(options: BenchOptions): Promise<BenchOutcome> {
  const s = sizes(options.quick);
  const scope = new Scope();
  try {
    // --- R1 on a single server
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-cluster-'));
    scope.defer(`remove ${dir}`, () => {
      if (!process.env.BENCH_KEEP_DIRS) rmSync(dir, { recursive: true, force: true });
    });
    const single = await startNatsServer({ dataDir: join(dir, 'single') });
    scope.defer('stop the single server', () => single.stop());
    const singleNc = await connectAdmin(single.url, single.credentials, 'bench-r1');
    await addStream(singleNc, 1);
    const r1 = await measurePublishes(singleNc, 'r1', s);
    options.log(`R1 single server: p50 ${fmt(r1.p50, 2)} ms, p99 ${fmt(r1.p99, 2)} ms, ${fmt(r1.rate, 0)} msg/s`);
    await singleNc.close();
    await single.stop();

    // --- R3 on the cluster, from the leader's node and from a follower's
    const cluster = await startNatsCluster({ dataDir: join(dir, 'cluster') });
    scope.defer('stop the cluster', () => cluster.stopAll());
    const observer = await connectAdmin(cluster.urls, cluster.credentials, 'bench-observer');
    scope.defer('close the observer', () => observer.close());
    await addStream(observer, 3);
    await waitUntil('R3 stream current', async () => replicasCurrent(await streamReplicaStatus(observer, STREAM)), 30_000);
    const leader = cluster.node(await leaderOf(observer));
    const follower = cluster.nodes.find((n) => n !== leader)!;
    const onLeader = await connectAdmin(leader.url, cluster.credentials, 'bench-r3-leader');
    const r3 = await measurePublishes(onLeader, 'r3leader', s);
    await onLeader.close();
    options.log(`R3 via the leader: p50 ${fmt(r3.p50, 2)} ms, p99 ${fmt(r3.p99, 2)} ms, ${fmt(r3.rate, 0)} msg/s`);
    const onFollower = await connectAdmin(follower.url, cluster.credentials, 'bench-r3-follower');
    const r3f = await measurePublishes(onFollower, 'r3follower', s);
    await onFollower.close();
    options.log(`R3 via a follower: p50 ${fmt(r3f.p50, 2)} ms, p99 ${fmt(r3f.p99, 2)} ms, ${fmt(r3f.rate, 0)} msg/s`);

    // --- failover
    const samples: FailoverSample[] = [];
    for (let i = 0; i < s.kills; i++) samples.push(await killLeader(cluster, observer, options.log));

    const figures: Figure[] = [
      { name: 'publish → ack, R1 single server: p50', value: r1.p50, unit: 'ms', decimals: 2 },
      { name: 'publish → ack, R3 via the leader: p50', value: r3.p50, unit: 'ms', decimals: 2 },
      { name: 'publish → ack, R3 via a follower: p50', value: r3f.p50, unit: 'ms', decimals: 2 },
      { name: 'publish → ack, R1 single server: p99', value: r1.p99, unit: 'ms', decimals: 2 },
      { name: 'publish → ack, R3 via the leader: p99', value: r3.p99, unit: 'ms', decimals: 2 },
      { name: `windowed publishes (${s.window} in flight), R1 single server`, value: r1.rate, unit: 'msg/s', decimals: 0 },
      { name: `windowed publishes (${s.window} in flight), R3 via the leader`, value: r3.rate, unit: 'msg/s', decimals: 0 },
      { name: 'leader SIGKILLed → new stream leader, median', value: median(samples.map((x) => x.leaderMs)), unit: 'ms', decimals: 0 },
      { name: 'leader SIGKILLed → publish acked again, median', value: median(samples.map((x) => x.publishMs)), unit: 'ms', decimals: 0 },
      { name: 'leader SIGKILLed → publish acked again, max', value: Math.max(...samples.map((x) => x.publishMs)), unit: 'ms', decimals: 0 },
      { name: 'restarted node → replicas current, median', value: median(samples.map((x) => x.catchUpMs)), unit: 'ms', decimals: 0 },
    ];
    return {
      figures,
      notes: [
        `R3 costs ×${fmt(r3.p50 / r1.p50, 1)} the R1 latency (p50) and ${fmt((r3.rate / r1.rate) * 100, 0)} % of its windowed throughput here.`,
        `Failover samples (leader / publish / catch-up, ms): ${samples.map((x) => `${fmt(x.leaderMs, 0)} / ${fmt(x.publishMs, 0)} / ${fmt(x.catchUpMs, 0)}`).join('; ')}.`,
      ],
    };
  } finally {
    const problems = await scope.close();
    for (const p of problems) options.log(`cleanup: ${p}`);
  }
}

await runIfEntryPoint(import.meta.url, clusterReplication);
