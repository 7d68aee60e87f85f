export { nodeClusterView, waitUntilFormed, type NodeClusterView } from './clusterHealth.ts';
export {
  startNatsCluster,
  type ClusterNode,
  type NatsClusterHandle,
  type NodeRef,
  type StartNatsClusterOptions,
} from './launcher.ts';
export {
  CLUSTER_NAME,
  CLUSTER_NODE_CONFIG,
  clusterNodeEnv,
  clusterRoutesValue,
  generateRoutePassword,
  routeUrl,
  ROUTE_USER,
  type ClusterNodeEnv,
  type RouteAddress,
} from './nodeEnv.ts';
export { connectionNamesOn, nodesHoldingConnection } from './connections.ts';
export { replicasCurrent, stepDownStreamLeader, streamReplicaStatus, type StreamReplicaStatus } from './replicaStatus.ts';
