import type { Credentials, ServiceUser } from './credentials.ts';

export interface NatsEndpoint {
  url: string;
  credentials: Credentials;
}

export interface ServiceConnectionOptions {
  servers: string;
  user: string;
  pass: string;
}

/** Options for `connect()` of @nats-io/transport-node, as the given service user. */
export function connectionOptionsFor(endpoint: NatsEndpoint, user: ServiceUser): ServiceConnectionOptions {
  const creds = endpoint.credentials[user];
  return { servers: endpoint.url, user: creds.user, pass: creds.password };
}
