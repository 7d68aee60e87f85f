/**
 * Options for a durable pull consumer's `consume()` that keep it flowing through a NATS
 * cluster failover. When the consumer's leader node dies, the pull it held dies with it
 * and nats.js notices only after two missed idle heartbeats; with the defaults (30 s
 * expiry, heartbeat every 15 s) a gateway's commands or the projector's records then stall
 * for ~30 s. With a heartbeat every second the lost pull is re-issued ~2 s after the new
 * leader is elected, and an idle consumer costs one pull request every 5 s.
 * (test/cluster/failover.test.ts; docs/cluster.md)
 */
export const FAILOVER_CONSUME_OPTIONS = { expires: 5_000, idle_heartbeat: 1_000 } as const;
