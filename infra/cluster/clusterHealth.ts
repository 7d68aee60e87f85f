import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

const POLL_MS = 100;
const REQUEST_TIMEOUT_MS = 1_000;

/** The parts of nats-server 2.9's `/jsz` the cluster check reads. */
const jszSchema = z.object({
  meta_cluster: z
    .object({
      name: z.string().optional(),
      leader: z.string().optional(),
      cluster_size: z.number().int(),
    })
    .optional(),
});

const routezSchema = z.object({ num_routes: z.number().int() });

export interface NodeClusterView {
  /** Routes this node holds to the other nodes. */
  routes: number;
  /** The JetStream meta leader this node knows of ('' or undefined: none yet). */
  metaLeader: string | undefined;
  /** Peers of the JetStream meta group this node knows of (itself included). */
  clusterSize: number;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return res.json();
}

/** What one node says about the cluster, from its monitoring port (`/routez`, `/jsz`). */
export async function nodeClusterView(monitorUrl: string): Promise<NodeClusterView> {
  const routez = routezSchema.parse(await getJson(`${monitorUrl}/routez`));
  const jsz = jszSchema.parse(await getJson(`${monitorUrl}/jsz`));
  return {
    routes: routez.num_routes,
    metaLeader: jsz.meta_cluster?.leader || undefined,
    clusterSize: jsz.meta_cluster?.cluster_size ?? 0,
  };
}

export interface FormationCheck {
  /** Monitoring URLs of the nodes that should be running now. */
  runningMonitorUrls: string[];
  /** Every node of the cluster, running or not (the meta group's size). */
  clusterSize: number;
  timeoutMs: number;
}

/**
 * Waits until the running nodes form one cluster: each holds a route to every other
 * running node, knows the whole meta group, and all name the same JetStream meta leader.
 * Returns that leader's server_name.
 */
export async function waitUntilFormed(check: FormationCheck): Promise<string> {
  const deadline = Date.now() + check.timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const views = await Promise.all(check.runningMonitorUrls.map(nodeClusterView));
      const leaders = new Set(views.map((v) => v.metaLeader));
      const [leader] = [...leaders];
      const routesOk = views.every((v) => v.routes >= check.runningMonitorUrls.length - 1);
      const sizeOk = views.every((v) => v.clusterSize === check.clusterSize);
      if (routesOk && sizeOk && leaders.size === 1 && leader !== undefined) return leader;
      last = JSON.stringify(views);
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) {
      throw new Error(`the NATS cluster did not form within ${check.timeoutMs} ms (last view: ${last})`);
    }
    await sleep(POLL_MS);
  }
}
