/** The projection topics a dashboard receives as `{"type":<topic>,"key","value"}`. */
export const WS_TOPICS = ['flow', 'device', 'device_state', 'actor'] as const;
export type WsTopic = (typeof WS_TOPICS)[number];

/**
 * Topics of the typed hub messages (issue 5): RPC data (`{data, is_stale, cached_at?, error?}`),
 * notifications, RPC errors and other clients' disconnections. `heartbeat`, `ping`, `pong`,
 * `error` and `welcome` go to every client whatever it subscribed to.
 */
export const HUB_TOPICS = ['system_status', 'storage_update', 'agent_status', 'compression_update', 'notification', 'rpc_error', 'connection_error'] as const;
