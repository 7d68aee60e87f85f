import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';

/** Lifeline's replicated size: every stream and bucket on three servers. */
export const CLUSTER_REPLICAS = 3;

/** The parts of the server INFO (sent at connect, re-sent as the cluster changes) read here. */
const serverInfoSchema = z.object({
  jetstream: z.boolean().optional(),
  /** The cluster's name; absent on a server that is not part of a cluster. */
  cluster: z.string().optional(),
  /** The client URLs of the cluster's servers this server knows are up, its own included. */
  connect_urls: z.array(z.string()).optional(),
});

export interface ClusterShape {
  clustered: boolean;
  /** Servers the connected server advertises (undefined when it advertises none). */
  servers: number | undefined;
}

/** What the server the connection is on says about its cluster. */
export function clusterShapeOf(nc: NatsConnection): ClusterShape {
  const parsed = serverInfoSchema.safeParse(nc.info);
  if (!parsed.success || parsed.data.jetstream !== true || parsed.data.cluster === undefined) {
    return { clustered: false, servers: undefined };
  }
  const urls = parsed.data.connect_urls;
  return { clustered: true, servers: urls === undefined ? undefined : new Set(urls).size };
}

/**
 * How many replicas new streams and buckets get: 3 when the connected server is part of
 * a cluster of at least three servers, else 1. Read from the server INFO, which every
 * user receives whatever its permissions (the JetStream account info has no cluster
 * size, and `/jsz` needs the monitoring port): `cluster` is set only on a clustered
 * server, `connect_urls` lists the client URLs of the servers that are up. A cluster
 * that advertises none (`no_advertise`) is taken as full size: JetStream itself refuses
 * a placement it cannot make, with an error saying so. Two servers give 1, not 2: an R2
 * stream stops when either server does.
 */
export function replicasFor(shape: ClusterShape): number {
  if (!shape.clustered) return 1;
  if (shape.servers === undefined || shape.servers >= CLUSTER_REPLICAS) return CLUSTER_REPLICAS;
  return 1;
}
