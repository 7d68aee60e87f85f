import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { componentLogger } from '../../services/log/logger.ts';
import { freePorts, loadOrCreateCredentials, startNatsServer, type Credentials, type NatsServerHandle } from '../nats/index.ts';
import { waitUntilFormed } from './clusterHealth.ts';
import { CLUSTER_NODE_CONFIG, clusterNodeEnv, generateRoutePassword } from './nodeEnv.ts';

const LOOPBACK = '127.0.0.1';
const DEFAULT_NODES = 3;
const DEFAULT_START_TIMEOUT_MS = 30_000;

export interface StartNatsClusterOptions {
  /**
   * Holds credentials.json (one set for every node) and one folder per node (its
   * JetStream store and nats-server.log). Default: a new temporary folder, removed by
   * stopAll().
   */
  dataDir?: string;
  /** How many nodes (default 3). */
  nodes?: number;
  /** Default: infra/cluster/node.conf. */
  configPath?: string;
  /** Default: findNatsServerBinary(). */
  binary?: string;
  /** How long to wait for the cluster to form, at start and after a restart (default 30 s). */
  startTimeoutMs?: number;
}

export interface ClusterNode {
  /** server_name: `node-1`, `node-2`, … (what `nc.info.server_name` and /jsz report). */
  readonly name: string;
  /** `nats://127.0.0.1:<client port>` */
  readonly url: string;
  /** `http://127.0.0.1:<monitor port>` */
  readonly monitorUrl: string;
  /** `ws://127.0.0.1:<websocket port>` */
  readonly wsUrl: string;
  readonly clusterPort: number;
  /** The node's data folder (JetStream store in `jetstream/`, `nats-server.log`). */
  readonly dataDir: string;
  readonly pid: number;
  readonly running: boolean;
  /** The single-node launcher's handle for this node's process. */
  readonly server: NatsServerHandle;
}

/** A node by its position (0-based), its server_name, or the node itself. */
export type NodeRef = number | string | ClusterNode;

export interface NatsClusterHandle {
  readonly nodes: readonly ClusterNode[];
  /** Every node's client URL: the server list to connect with. */
  readonly urls: string[];
  /** The same list as NATS_URL takes it: comma-separated. */
  readonly natsUrl: string;
  readonly credentials: Credentials;
  readonly dataDir: string;
  node(ref: NodeRef): ClusterNode;
  /** Sends a signal (default SIGKILL) to a node; resolves once it exited. */
  kill(ref: NodeRef, signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (SIGKILL after 10 s); resolves once it exited. */
  stop(ref: NodeRef): Promise<void>;
  /**
   * Starts a node again (stopping it first if it runs) on the same ports and store, and
   * waits until it has rejoined: routes to every running node, the same meta leader.
   */
  restart(ref: NodeRef): Promise<void>;
  /** Waits until the running nodes form one cluster; returns the JetStream meta leader's name. */
  waitUntilFormed(timeoutMs?: number): Promise<string>;
  /** Stops every node and removes the data folder if the launcher created it. */
  stopAll(): Promise<void>;
}

interface NodePorts {
  client: number;
  websocket: number;
  monitor: number;
  cluster: number;
}

async function pickPorts(count: number): Promise<NodePorts[]> {
  const ports = await freePorts(count * 4);
  return Array.from({ length: count }, (_, i) => {
    const [client, websocket, monitor, cluster] = ports.slice(i * 4, i * 4 + 4) as [number, number, number, number];
    return { client, websocket, monitor, cluster };
  });
}

function describeNode(server: NatsServerHandle, name: string, clusterPort: number, dataDir: string): ClusterNode {
  return {
    name,
    url: server.url,
    monitorUrl: server.monitorUrl,
    wsUrl: server.wsUrl,
    clusterPort,
    dataDir,
    server,
    get pid() {
      return server.pid;
    },
    get running() {
      return server.running;
    },
  };
}

/**
 * Starts a NATS cluster with JetStream on loopback: `nodes` nats-server processes
 * (default 3) running infra/cluster/node.conf on free ports, each with its own store,
 * all with the same users and passwords. Resolves once the cluster has formed and
 * JetStream has a meta leader. Every process is killed when this process exits.
 */
export async function startNatsCluster(opts: StartNatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const log = componentLogger('nats-cluster');
  const count = opts.nodes ?? DEFAULT_NODES;
  if (!Number.isInteger(count) || count < 1) throw new Error(`a cluster needs at least 1 node, not ${count}`);
  const ownsDataDir = opts.dataDir === undefined;
  const dataDir = resolve(opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'lifeline-cluster-'))));
  const startTimeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const credentials = await loadOrCreateCredentials(dataDir);
  const routePassword = generateRoutePassword();
  const ports = await pickPorts(count);
  const routes = ports.map((p) => ({ host: LOOPBACK, port: p.cluster }));

  const started = await Promise.allSettled(
    ports.map(async (p, i) => {
      const name = `node-${i + 1}`;
      const nodeDir = join(dataDir, name);
      const server = await startNatsServer({
        dataDir: nodeDir,
        ports: { client: p.client, websocket: p.websocket, monitor: p.monitor },
        configPath: opts.configPath ?? CLUSTER_NODE_CONFIG,
        ...(opts.binary ? { binary: opts.binary } : {}),
        startTimeoutMs,
        readiness: 'serving',
        credentials,
        env: clusterNodeEnv({ name, host: LOOPBACK, clusterPort: p.cluster, routes, routePassword }),
      });
      return describeNode(server, name, p.cluster, nodeDir);
    }),
  );
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');

  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.server.stop()));
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
  };
  const formed = (timeoutMs = startTimeoutMs): Promise<string> =>
    waitUntilFormed({
      runningMonitorUrls: nodes.filter((n) => n.running).map((n) => n.monitorUrl),
      clusterSize: count,
      timeoutMs,
    });

  if (failure) {
    await stopAll();
    throw failure.reason;
  }
  try {
    const leader = await formed();
    log.info({ nodes: nodes.map((n) => ({ name: n.name, url: n.url, pid: n.pid })), metaLeader: leader }, 'NATS cluster formed');
  } catch (err) {
    await stopAll();
    throw err;
  }

  const node = (ref: NodeRef): ClusterNode => {
    const found =
      typeof ref === 'number' ? nodes[ref] : typeof ref === 'string' ? nodes.find((n) => n.name === ref) : nodes.find((n) => n === ref);
    if (!found) throw new Error(`no such cluster node: ${typeof ref === 'object' ? ref.name : String(ref)}`);
    return found;
  };

  return {
    nodes,
    urls: nodes.map((n) => n.url),
    natsUrl: nodes.map((n) => n.url).join(','),
    credentials,
    dataDir,
    node,
    kill: async (ref, signal = 'SIGKILL') => {
      const n = node(ref);
      await n.server.kill(signal);
      log.info({ node: n.name, signal }, 'cluster node killed');
    },
    stop: (ref) => node(ref).server.stop(),
    restart: async (ref) => {
      const n = node(ref);
      await n.server.restart();
      const leader = await formed();
      log.info({ node: n.name, pid: n.pid, metaLeader: leader }, 'cluster node rejoined');
    },
    waitUntilFormed: formed,
    stopAll,
  };
}
