import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

export interface StreamReplicaStatus {
  stream: string;
  /** `config.num_replicas` */
  replicas: number;
  /** The server_name of the stream's leader ('' while it has none). */
  leader: string;
  /** The other peers, each with whether it is current (caught up) and online. */
  peers: Array<{ name: string; current: boolean; offline: boolean }>;
}

/** Where a stream's replicas are and whether they are caught up (`$JS.API.STREAM.INFO`). */
export async function streamReplicaStatus(nc: NatsConnection, stream: string): Promise<StreamReplicaStatus> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  return {
    stream,
    replicas: info.config.num_replicas,
    leader: info.cluster?.leader ?? '',
    peers: (info.cluster?.replicas ?? []).map((p) => ({ name: p.name, current: p.current, offline: p.offline === true })),
  };
}

/** True when the stream has a leader and all `replicas - 1` other peers are online and current. */
export function replicasCurrent(status: StreamReplicaStatus): boolean {
  return (
    status.leader !== '' &&
    status.peers.length === status.replicas - 1 &&
    status.peers.every((p) => p.current && !p.offline)
  );
}

/** Asks the stream's leader to step down (admin); JetStream elects another peer. */
export async function stepDownStreamLeader(nc: NatsConnection, stream: string): Promise<void> {
  await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, '', { timeout: 5_000 });
}
