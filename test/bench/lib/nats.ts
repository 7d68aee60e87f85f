import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, type NatsServerHandle } from '../../../infra/nats/index.ts';
import type { Bus } from '../../../services/bus/connection.ts';
import { provision } from '../../../services/bus/provision.ts';
import { connectAs, type NatsEndpoint } from '../../../services/cli/natsEndpoint.ts';
import type { Scope } from './scope.ts';

export interface BenchNats {
  /** Temporary directory of this benchmark: the server's store, credentials and every log. */
  dir: string;
  server: NatsServerHandle;
  endpoint: NatsEndpoint;
  /** An admin connection (provisioning, stream and consumer info). */
  admin: Bus;
}

/**
 * A nats-server of its own for one benchmark (free loopback ports, temporary store, the
 * bundled nats.conf with its per-service users), provisioned. Everything is undone by
 * the scope: the connection closed, the server stopped, the directory removed.
 */
export async function startBenchNats(scope: Scope, label: string): Promise<BenchNats> {
  const dir = mkdtempSync(join(tmpdir(), `lifeline-bench-${label}-`));
  scope.defer(`remove ${dir}`, () => {
    if (!process.env.BENCH_KEEP_DIRS) rmSync(dir, { recursive: true, force: true });
  });
  const server = await startNatsServer({ dataDir: dir, ...(process.env.BENCH_NATS_CONFIG ? { configPath: process.env.BENCH_NATS_CONFIG } : {}) });
  scope.defer('stop nats-server', () => server.stop());
  const endpoint: NatsEndpoint = { url: server.url, credentials: server.credentials };
  const admin = await connectAs(endpoint, 'admin', `bench-${label}-admin`, 10_000);
  scope.defer('close admin connection', () => admin.close());
  await provision(admin.nc);
  return { dir, server, endpoint, admin };
}
