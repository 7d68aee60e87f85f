import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** The node configuration every cluster node runs (it includes the repository's nats.conf). */
export const CLUSTER_NODE_CONFIG = fileURLToPath(new URL('./node.conf', import.meta.url));

/** The cluster's name in node.conf (`cluster { name }`); the server INFO reports it. */
export const CLUSTER_NAME = 'lifeline';

/** The user every route authenticates as (node.conf `cluster.authorization.user`). */
export const ROUTE_USER = 'route';

export interface RouteAddress {
  host: string;
  port: number;
}

/** The cluster-only variables of node.conf (nats.conf's own come from natsServerEnv). */
export type ClusterNodeEnv = Record<
  'LIFELINE_NODE_NAME' | 'LIFELINE_NATS_HOST' | 'LIFELINE_CLUSTER_PORT' | 'LIFELINE_CLUSTER_PASS' | 'LIFELINE_CLUSTER_ROUTES',
  string
>;

export interface ClusterNodeEnvInput {
  /** server_name, unique in the cluster. */
  name: string;
  /** The address this node's client, monitoring and route listeners bind. */
  host: string;
  /** This node's route listener. */
  clusterPort: number;
  /** The route listener of every node (this one included: nats-server skips itself). */
  routes: RouteAddress[];
  /** The routes' shared password (see generateRoutePassword). */
  routePassword: string;
}

/** A route password nats-server reads as a string: a letter, then hex (like the users' ones). */
export function generateRoutePassword(): string {
  return `r${randomBytes(24).toString('hex')}`;
}

export function routeUrl(route: RouteAddress, routePassword: string): string {
  return `nats://${ROUTE_USER}:${routePassword}@${route.host}:${route.port}`;
}

/**
 * LIFELINE_CLUSTER_ROUTES: the routes as config text (a JSON array of strings is valid
 * nats.conf), so the list survives the substitution whole. The same on every node.
 */
export function clusterRoutesValue(routes: readonly RouteAddress[], routePassword: string): string {
  return JSON.stringify(routes.map((r) => routeUrl(r, routePassword)));
}

/** The variables node.conf reads for one node. */
export function clusterNodeEnv(input: ClusterNodeEnvInput): ClusterNodeEnv {
  return {
    LIFELINE_NODE_NAME: input.name,
    LIFELINE_NATS_HOST: input.host,
    LIFELINE_CLUSTER_PORT: String(input.clusterPort),
    LIFELINE_CLUSTER_PASS: input.routePassword,
    LIFELINE_CLUSTER_ROUTES: clusterRoutesValue(input.routes, input.routePassword),
  };
}
