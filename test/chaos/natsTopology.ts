import { startNatsServer, type NatsServerHandle } from '../../infra/nats/index.ts';
import type { NatsEndpoint } from '../../services/cli/natsEndpoint.ts';

/**
 * Where NATS runs for a chaos run. The harness only uses this interface, so the topology
 * is pluggable: `singleNode` (one nats-server, infra/nats launcher) today; a 3-node cluster
 * (infra/cluster) plugs in as another implementation whose `killNode` SIGKILLs one member
 * and whose `url` lists every member.
 */
export interface NatsTopology {
  readonly kind: 'single-node' | 'cluster';
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
    url: server.url,
    endpoint: { url: server.url, credentials: server.credentials },
    nodes: () => ['nats-1'],
    killNode: () => server.kill('SIGKILL'),
    restartNode: () => server.restart(),
    downNodes: () => (server.running ? [] : ['nats-1']),
    stop: () => server.stop(),
  };
}
