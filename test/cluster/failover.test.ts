import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimDevice, type SimDeviceOptions } from '../../infra/device-sim/index.ts';
import {
  nodesHoldingConnection,
  replicasCurrent,
  startNatsCluster,
  stepDownStreamLeader,
  streamReplicaStatus,
  type ClusterNode,
  type NatsClusterHandle,
} from '../../infra/cluster/index.ts';
import { provision } from '../../services/bus/provision.ts';
import type { FlowEntry } from '../../services/bus/schemas/projections.ts';
import { BUCKETS, STREAMS } from '../../services/bus/subjects.ts';
import { decodeToken, encodeToken } from '../../services/bus/tokens.ts';
import { connectAs } from '../../services/cli/natsEndpoint.ts';
import { waitForFlow } from '../support/integration.ts';
import { byIncarnation, readRecords } from '../support/streams.ts';
import { getJson, postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * A real system on a 3-node NATS cluster: streams and buckets R3; the node the device
 * gateway is connected to, also the leader of stream CONN, is SIGKILLed mid-traffic. The
 * services reconnect to the other nodes, commands submitted after the kill complete, a
 * device crashed after the kill has its flow end `failed`, every transition record is in
 * CONN exactly once and gap-free, and the restarted node catches up.
 */

const STEADY = 6;
const DOOMED = 2;
const SERVICE_CONNECTIONS = ['lifeline-hub', 'lifeline-projector'];

let cluster: NatsClusterHandle;
let sys: TestSystem;
let replicasBeforeAuto: number | undefined;
const devices: SimDevice[] = [];

const streamNames = (): string[] => [...Object.values(STREAMS), ...Object.values(BUCKETS).map((b) => `KV_${b}`)];

async function allReplicasCurrent(): Promise<boolean> {
  for (const stream of streamNames()) {
    const status = await streamReplicaStatus(sys.admin.nc, stream);
    if (status.replicas !== 3 || !replicasCurrent(status)) return false;
  }
  return true;
}

beforeAll(async () => {
  cluster = await startNatsCluster();
  const servers = { url: cluster.natsUrl, credentials: cluster.credentials };
  // Streams and buckets that exist as R1 (created before the cluster had its replicas)…
  const admin = await connectAs(servers, 'admin', 'test-provision-r1', 10_000);
  await provision(admin.nc, { replicas: 1 });
  replicasBeforeAuto = (await (await jetstreamManager(admin.nc)).streams.info(STREAMS.conn)).config.num_replicas;
  await admin.close();
  // …are scaled up to R3 by the system's own provisioning ('auto').
  sys = await startTestSystem({
    servers,
    timing: { heartbeatIntervalMs: 300, silentTimeoutMs: 8_000, ackTimeoutMs: 8_000, resultTimeoutMs: 20_000 },
  });
}, 60_000);

afterAll(async () => {
  for (const d of devices) if (d.isOpen) d.crash();
  await sys?.stop();
  await cluster?.stopAll();
});

async function connect(options: Omit<SimDeviceOptions, 'host' | 'port'>): Promise<SimDevice> {
  const device = await connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, ...options });
  devices.push(device);
  return device;
}

const nodeOf = (device: SimDevice, k: number): string => `${device.name}-node-${k}`;

/** Where each durable consumer stands (for a failure message). */
async function consumerStates(): Promise<string> {
  const jsm = await jetstreamManager(sys.admin.nc);
  const out: string[] = [];
  for (const stream of [STREAMS.commands, STREAMS.conn]) {
    for await (const c of jsm.consumers.list(stream)) {
      out.push(`${stream}/${c.name}: leader ${c.cluster?.leader}, pending ${c.num_pending}, ack pending ${c.num_ack_pending}, waiting ${c.num_waiting}`);
    }
  }
  return out.join('; ');
}

async function nodeHolding(name: string): Promise<ClusterNode> {
  return waitFor(async () => (await nodesHoldingConnection(cluster.nodes, name))[0], 10_000, `connection ${name} on a node`);
}

describe('a 3-node NATS cluster', () => {
  it('provisions every stream and bucket with 3 replicas (scaling R1 ones up), all current', async () => {
    expect(replicasBeforeAuto).toBe(1);
    expect(await provision(sys.admin.nc)).toEqual({ replicas: 3 });
    await waitFor(allReplicasCurrent, 20_000, 'every stream and bucket R3 with its replicas current');
    const conn = await streamReplicaStatus(sys.admin.nc, STREAMS.conn);
    expect(conn.replicas).toBe(3);
    expect([conn.leader, ...conn.peers.map((p) => p.name)].sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
  }, 30_000);

  it('survives a SIGKILL of the node the gateway is on: services reconnect, nothing lost or duplicated, the node catches up', async () => {
    const steady = await Promise.all(
      Array.from({ length: STEADY }, (_, i) => connect({ name: `steady${i}`, behavior: 'normal', resultDelayMs: 100 })),
    );
    const doomed = await Promise.all(Array.from({ length: DOOMED }, (_, i) => connect({ name: `doomed${i}`, behavior: 'no-result' })));
    await waitFor(async () => (await getJson(sys, '/api/devices')).body.length === STEADY + DOOMED, 10_000, 'every device listed');

    // --- before the kill: one command each completes; the doomed devices hold theirs
    for (const d of steady) expect((await postCommand(sys, d.id, { node_id: nodeOf(d, 1), command: 'run' })).status).toBe(202);
    for (const d of doomed) expect((await postCommand(sys, d.id, { node_id: nodeOf(d, 1), command: 'run' })).status).toBe(202);
    for (const d of steady) await waitForFlow(sys, nodeOf(d, 1), 'completed');
    for (const d of doomed) await waitForFlow(sys, nodeOf(d, 1), 'in progress');

    // --- the victim: the gateway's node, made leader of CONN so that the log's leader dies too
    const gatewayConnection = `lifeline-gateway-${sys.config.gatewayName}`;
    const victim = await nodeHolding(gatewayConnection);
    await waitFor(
      async () => {
        const { leader } = await streamReplicaStatus(sys.admin.nc, STREAMS.conn);
        if (leader === victim.name) return true;
        if (leader !== '') await stepDownStreamLeader(sys.admin.nc, STREAMS.conn);
        return false;
      },
      20_000,
      `CONN led by ${victim.name}`,
    );
    const outbox = sys.gateway.outbox;
    const killedAt = Date.now();
    await cluster.kill(victim);

    // a device crashes while the gateway is still finding another node
    doomed[0]!.crash();

    // --- the services reconnect to the surviving nodes; CONN elects another leader
    const survivors = cluster.nodes.filter((n) => n !== victim);
    const reconnected = await waitFor(
      async () => {
        for (const name of [gatewayConnection, ...SERVICE_CONNECTIONS]) {
          if ((await nodesHoldingConnection(survivors, name)).length !== 1) return false;
        }
        return Date.now() - killedAt;
      },
      20_000,
      'gateway, hub and projector connected to a surviving node',
    );
    const newLeader = await waitFor(
      async () => {
        const { leader } = await streamReplicaStatus(sys.admin.nc, STREAMS.conn);
        return leader !== '' && leader !== victim.name ? { leader, afterMs: Date.now() - killedAt } : undefined;
      },
      20_000,
      'a new CONN leader',
    );
    console.info(`cluster failover: services reconnected after ${reconnected} ms, CONN leader ${victim.name} → ${newLeader.leader} after ${newLeader.afterMs} ms`);

    // --- commands submitted after the kill are accepted and complete; the other doomed device crashes now
    // a stream whose leader died answers nothing until it has a new one: the hub says 503, a client retries
    let refused = 0;
    for (const d of steady) {
      for (const k of [2, 3]) {
        const accepted = await waitFor(
          async () => {
            const res = await postCommand(sys, d.id, { node_id: nodeOf(d, k), command: 'run', params: { k } });
            if (res.status === 503) refused += 1;
            return res.status === 503 ? undefined : res;
          },
          20_000,
          `command ${nodeOf(d, k)} accepted`,
        );
        expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
      }
    }
    doomed[1]!.crash();
    // first the gateway's path (its COMMANDS consumer delivers them), then the projector's (flows)
    await waitFor(() => steady.every((d) => d.commands.length === 3), 20_000, 'commands delivered to the devices after the kill').catch(
      async (err: Error) => {
        throw new Error(`${err.message}; ${await consumerStates()}`);
      },
    );
    const expected: Record<string, [string, string | undefined]> = {};
    for (const d of steady) for (const k of [1, 2, 3]) expected[encodeToken(nodeOf(d, k))] = ['completed', undefined];
    for (const d of doomed) expected[encodeToken(nodeOf(d, 1))] = ['failed', 'SOCKET_RESET'];
    const flowsAsExpected = async (read: (key: string) => Promise<FlowEntry | undefined>): Promise<boolean> => {
      for (const [key, [status, code]] of Object.entries(expected)) {
        const flow = await read(key);
        if (flow?.status !== status || flow.error?.code !== code) return false;
      }
      return true;
    };
    // the projection (KV `flows`, written by the projector), then the hub's copy of it
    await waitFor(
      async () => {
        const flows = (await sys.kvEntries('flows')) as Record<string, FlowEntry>;
        return flowsAsExpected(async (key) => flows[key]);
      },
      30_000,
      'flows completed / failed in KV',
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}; ${await consumerStates()}`);
    });
    const inKvAt = Date.now();
    // the hub's mirror restarts a watch that stalled on the dead node (bucketMirror.ts): seconds, not a minute
    await waitFor(
      () =>
        flowsAsExpected(async (key) => {
          const res = await getJson(sys, `/api/flows/${encodeURIComponent(decodeToken(key))}`);
          return res.status === 200 ? (res.body as FlowEntry) : undefined;
        }),
      15_000,
      "the hub's /api/flows showing every flow as in KV",
    );
    console.info(
      `cluster failover: ${refused} submission(s) refused with 503 while a leader was missing; every flow ended in KV ${inKvAt - killedAt} ms after the kill, on /api/flows ${Date.now() - killedAt} ms after it`,
    );
    for (const d of steady) expect(d.commands.map((c) => c.node_id), d.id).toEqual([1, 2, 3].map((k) => nodeOf(d, k)));

    // --- the killed node comes back on its ports and store and catches up
    await cluster.restart(victim);
    await waitFor(allReplicasCurrent, 20_000, `${victim.name} current again on every stream and bucket`);
    const conn = await streamReplicaStatus(sys.admin.nc, STREAMS.conn);
    expect([conn.leader, ...conn.peers.map((p) => p.name)]).toContain(victim.name);

    // --- the log: every record the gateway produced is in CONN once, numbered 1..n per actor incarnation
    let drained = false;
    void outbox.flush().then(() => (drained = true));
    await waitFor(() => drained, 20_000, 'gateway outbox drained');
    const stats = outbox.stats();
    expect(stats).toMatchObject({ queued: 0, inFlight: 0, dropped: 0, gapRecords: 0 });
    // what CONN holds per subject, then every one of those records (a read can end early under load: read again)
    const jsm = await jetstreamManager(sys.admin.nc);
    const info = await jsm.streams.info(STREAMS.conn, { subjects_filter: 'conn.device.>' });
    const held = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    expect(held).toBe(stats.enqueued);
    const stored = await waitFor(
      async () => {
        const records = await readRecords(sys.admin.nc, 'conn.device.>');
        return records.length === held ? records : undefined;
      },
      20_000,
      `all ${held} device records read back from CONN`,
    );
    expect(new Set(stored.map((s) => s.msgId)).size).toBe(stored.length);
    const incarnations = byIncarnation(stored);
    expect(incarnations.size).toBe(STEADY + DOOMED);
    for (const [key, list] of incarnations) expect(list.map((s) => s.record.seq), key).toEqual(list.map((_, i) => i + 1));
    for (const actor of sys.gateway.gateway.registry.all()) {
      expect(incarnations.get(`device:${actor.id}:${actor.incarnation}`)?.at(-1)?.record.seq, actor.id).toBe(actor.seq());
    }
    for (const d of doomed) {
      const last = [...incarnations.values()].find((l) => l[0]!.record.id === d.id)!.at(-1)!.record;
      expect([last.to, last.error?.code], d.id).toEqual(['failed', 'SOCKET_RESET']);
    }
  }, 90_000);
});
