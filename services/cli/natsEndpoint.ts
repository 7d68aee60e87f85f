import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { loadOrCreateCredentials, type Credentials, type ServiceUser } from '../../infra/nats/index.ts';
import { connectBus, type Bus } from '../bus/connection.ts';
import { formatIssues } from '../bus/schemas/parse.ts';
import { natsUrlSchema } from '../bus/serverList.ts';
import { ConfigError, type RuntimeConfig } from './config.ts';

const SERVER_FILE = 'server.json';
const serverFileSchema = z.object({ url: z.string(), wsUrl: z.string(), monitorUrl: z.string(), pid: z.number() });
export type ServerFile = z.infer<typeof serverFileSchema>;

export interface NatsEndpoint {
  /** One server URL, or a cluster's nodes as a comma-separated list (NATS_URL's form). */
  url: string;
  /** null: an external server (NATS_URL) without generated credentials: connect without auth. */
  credentials: Credentials | null;
}

export class NatsNotRunningError extends Error {
  readonly code = 'NATS_NOT_RUNNING';
}

/** A ConfigError (code INVALID_CONFIG): `lifeline` prints its code and message, no stack, and exits 1. */
export class NatsUrlError extends ConfigError {}

/** NATS_URL (or --nats-url): one server or a comma-separated list; anything else is a NatsUrlError. */
export function checkNatsUrl(url: string): string {
  const parsed = natsUrlSchema.safeParse(url);
  if (!parsed.success) throw new NatsUrlError(`invalid configuration: NATS_URL: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

/** `lifeline up` records where its bundled server listens, so other subcommands find it. */
export function writeServerFile(dataDir: string, server: ServerFile): void {
  writeFileSync(join(dataDir, SERVER_FILE), JSON.stringify(server, null, 2));
}

export function removeServerFile(dataDir: string): void {
  rmSync(join(dataDir, SERVER_FILE), { force: true });
}

/** NATS_URL when set (with the data dir's credentials if there are any), else the bundled server. */
export async function resolveNatsEndpoint(config: RuntimeConfig): Promise<NatsEndpoint> {
  const credentialsFile = join(config.dataDir, 'credentials.json');
  if (config.natsUrl) {
    return { url: checkNatsUrl(config.natsUrl), credentials: existsSync(credentialsFile) ? await loadOrCreateCredentials(config.dataDir) : null };
  }
  const serverFile = join(config.dataDir, SERVER_FILE);
  if (!existsSync(serverFile)) {
    throw new NatsNotRunningError(
      `no bundled NATS server is running for data directory ${config.dataDir}: start one with \`npm start\` (lifeline up), or set NATS_URL`,
    );
  }
  const server = serverFileSchema.parse(JSON.parse(readFileSync(serverFile, 'utf8')));
  return { url: server.url, credentials: await loadOrCreateCredentials(config.dataDir) };
}

export function connectAs(endpoint: NatsEndpoint, user: ServiceUser, name: string, firstConnectTimeoutMs?: number): Promise<Bus> {
  const creds = endpoint.credentials?.[user];
  return connectBus({
    servers: endpoint.url,
    name,
    ...(creds ? { user: creds.user, pass: creds.password } : {}),
    ...(firstConnectTimeoutMs !== undefined ? { firstConnectTimeoutMs } : {}),
  });
}
