import { startNatsCluster } from '../../infra/cluster/index.ts';
import { startNatsServer, type NatsServerHandle } from '../../infra/nats/index.ts';
import type { NatsEndpoint } from '../../services/cli/natsEndpoint.ts';

/**
 * Where NATS runs for a chaos run. The harness only uses this interface, so the topology
 * is pluggable: `startSingleNode` (one nats-server, infra/nats launcher: killing it takes
 * NATS away from everyone until it is back on the same ports and store) or
 * `startCluster` (infra/cluster: three nodes, streams and buckets with 3 replicas;
 * killing one node leaves a quorum, and clients move to another member).
 */
export type TopologyKind = 'single-node' | 'cluster';

export interface NatsTopology {
  readonly kind: TopologyKind;
  /** Stream and bucket replicas to provision. */
  readonly replicas: number;
  /** What `--nats-url` gets (a cluster: every member, comma-separated). */
  readonly url: string;
  readonly endpoint: NatsEndpoint;
  /** Nodes that can be killed, by name. */
  nodes(): string[];
  /** SIGKILL one node (single node: the server itself; everything loses NATS). */
  killNode(node: string): Promise<void>;
  /** Start a killed node again on the same ports and store; resolves once it is healthy. */
  restartNode(node: string): Promise<void>;
  /** Nodes not running now (killed and not yet restarted). */
  downNodes(): string[];
  stop(): Promise<void>;
}

export async function startSingleNode(dataDir: string): Promise<NatsTopology> {
  const server: NatsServerHandle = await startNatsServer({ dataDir });
  return {
    kind: 'single-node',
    replicas: 1,
    url: server.url,
    endpoint: { url: server.url, credentials: server.credentials },
    nodes: () => ['nats-1'],
    killNode: () => server.kill('SIGKILL'),
    restartNode: () => server.restart(),
    downNodes: () => (server.running ? [] : ['nats-1']),
    stop: () => server.stop(),
  };
}

export async function startCluster(dataDir: string): Promise<NatsTopology> {
  // credentials.json lands in dataDir itself, where `lifeline run --data-dir` looks for it
  // a restarted node catches up every R3 stream before its /healthz says 200: slow on a busy machine
  const cluster = await startNatsCluster({ dataDir, startTimeoutMs: 90_000 });
  return {
    kind: 'cluster',
    replicas: Math.min(3, cluster.nodes.length),
    url: cluster.natsUrl,
    endpoint: { url: cluster.natsUrl, credentials: cluster.credentials },
    nodes: () => cluster.nodes.map((n) => n.name),
    killNode: (node) => cluster.kill(node, 'SIGKILL'),
    restartNode: (node) => cluster.restart(node),
    downNodes: () => cluster.nodes.filter((n) => !n.running).map((n) => n.name),
    stop: () => cluster.stopAll(),
  };
}

/** CHAOS_TOPOLOGY (`single-node` or `cluster`), else `fallback`. */
export function topologyKind(fallback: TopologyKind, env: NodeJS.ProcessEnv = process.env): TopologyKind {
  const raw = env.CHAOS_TOPOLOGY;
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'single-node' || raw === 'cluster') return raw;
  throw new Error(`CHAOS_TOPOLOGY must be single-node or cluster: got "${raw}"`);
}

export function startTopology(kind: TopologyKind, dataDir: string): Promise<NatsTopology> {
  return kind === 'cluster' ? startCluster(dataDir) : startSingleNode(dataDir);
}
