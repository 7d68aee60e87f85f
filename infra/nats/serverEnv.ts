import { credentialsEnv, type Credentials, type PasswordEnvVar } from './credentials.ts';

export interface NatsServerPorts {
  client: number;
  websocket: number;
  monitor: number;
}

export type NatsServerEnv = Record<
  'LIFELINE_NATS_PORT' | 'LIFELINE_NATS_WS_PORT' | 'LIFELINE_NATS_MONITOR_PORT' | 'LIFELINE_JS_STORE_DIR' | PasswordEnvVar,
  string
>;

/**
 * The environment nats.conf reads. nats-server parses each substituted value as config
 * text, so the store directory is passed as a quoted string: a path with spaces or `#`
 * stays one value. (JSON string escapes are also valid nats.conf string escapes.)
 */
export function natsServerEnv(ports: NatsServerPorts, storeDir: string, credentials: Credentials): NatsServerEnv {
  return {
    LIFELINE_NATS_PORT: String(ports.client),
    LIFELINE_NATS_WS_PORT: String(ports.websocket),
    LIFELINE_NATS_MONITOR_PORT: String(ports.monitor),
    LIFELINE_JS_STORE_DIR: JSON.stringify(storeDir),
    ...credentialsEnv(credentials),
  };
}
