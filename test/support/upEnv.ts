/** The environment of a `lifeline up` test process: its own data dir and ports, never an outside NATS. */
export function upEnv(dataDir: string, ports: { http: number; device: number; nats: number; natsWs: number; natsMonitor: number }): NodeJS.ProcessEnv {
  return {
    LIFELINE_DATA_DIR: dataDir,
    LIFELINE_HTTP_PORT: String(ports.http),
    LIFELINE_DEVICE_PORT: String(ports.device),
    LIFELINE_NATS_PORT: String(ports.nats),
    LIFELINE_NATS_WS_PORT: String(ports.natsWs),
    LIFELINE_NATS_MONITOR_PORT: String(ports.natsMonitor),
    NATS_URL: '',
  };
}
