import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CLUSTER_NODE_CONFIG, waitUntilFormed } from '../../infra/cluster/index.ts';
import { findNatsServerBinary, freePorts } from '../../infra/nats/index.ts';
import { killWithParent } from '../../infra/nats/exitHooks.ts';
import { main as writeSecretsEnv } from '../../infra/cluster/secretsEnv.ts';
import { provision } from '../../services/bus/provision.ts';
import { STREAMS } from '../../services/bus/subjects.ts';
import { connectAs, resolveNatsEndpoint } from '../../services/cli/natsEndpoint.ts';
import { loadRuntimeConfig } from '../../services/cli/config.ts';
import { jetstreamManager } from '@nats-io/jetstream';

/**
 * The checked-in configuration for real hosts, run as documented: each node is
 * `nats-server -c infra/cluster/node.conf` in a shell that sourced node-<n>.env and the
 * secrets.env that secretsEnv.ts wrote. Three "hosts" are 127.0.0.1, 127.0.0.2 and
 * 127.0.0.3: the same client, route and monitoring ports on each, as on real hosts. Only
 * the host address, the store directory and the WebSocket port (which nats.conf binds to
 * 127.0.0.1 on every host) are changed from the checked-in files.
 */

const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const dir = mkdtempSync(join(tmpdir(), 'lifeline-cluster-hosts-'));
const children: ChildProcess[] = [];

afterAll(async () => {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
});

function checkedInEnv(n: number): string {
  return readFileSync(fileURLToPath(new URL(`../../infra/cluster/node-${n}.env`, import.meta.url)), 'utf8');
}

/** The checked-in file with this test's host, ports and store; every other line as it is. */
function localEnv(n: number, ports: { client: number; monitor: number; cluster: number; ws: number }): string {
  const replaced = checkedInEnv(n)
    .replace(/^LIFELINE_NATS_HOST=.*$/m, `LIFELINE_NATS_HOST='${HOSTS[n - 1]}'`)
    .replace(/^LIFELINE_NATS_PORT=.*$/m, `LIFELINE_NATS_PORT='${ports.client}'`)
    .replace(/^LIFELINE_NATS_MONITOR_PORT=.*$/m, `LIFELINE_NATS_MONITOR_PORT='${ports.monitor}'`)
    .replace(/^LIFELINE_CLUSTER_PORT=.*$/m, `LIFELINE_CLUSTER_PORT='${ports.cluster}'`)
    .replace(/^LIFELINE_NATS_WS_PORT=.*$/m, `LIFELINE_NATS_WS_PORT='${ports.ws}'`)
    .replace(/^LIFELINE_JS_STORE_DIR=.*$/m, `LIFELINE_JS_STORE_DIR='${JSON.stringify(join(dir, `store-${n}`))}'`);
  return replaced;
}

describe('infra/cluster configuration for real hosts', () => {
  it('three nodes from node-<n>.env and secretsEnv.ts form a cluster that services reach through a NATS_URL list', async () => {
    for (let n = 1; n <= 3; n++) {
      const text = checkedInEnv(n);
      expect(text).toMatch(new RegExp(`^LIFELINE_NODE_NAME='node-${n}'$`, 'm'));
      expect(text).not.toMatch(/PASS/); // secrets live in secrets.env only
    }
    const [client, monitor, cluster, ...ws] = (await freePorts(6)) as [number, number, number, number, number, number];
    const dataDir = join(dir, 'lifeline');
    const secrets = join(dir, 'secrets.env');
    expect(await writeSecretsEnv(['--hosts', HOSTS.join(','), '--cluster-port', String(cluster), '--data-dir', dataDir, '--out', secrets])).toBe(0);
    expect(statSync(secrets).mode & 0o777).toBe(0o600);

    const binary = findNatsServerBinary();
    for (let n = 1; n <= 3; n++) {
      const nodeEnv = join(dir, `node-${n}.env`);
      writeFileSync(nodeEnv, localEnv(n, { client, monitor, cluster, ws: ws[n - 1]! }));
      const child = spawn('bash', ['-c', 'set -a; . "$1"; . "$2"; set +a; exec "$3" -c "$4"', 'node', secrets, nodeEnv, binary, CLUSTER_NODE_CONFIG], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      killWithParent(child);
      children.push(child);
    }
    const leader = await waitUntilFormed({
      runningMonitorUrls: HOSTS.map((h) => `http://${h}:${monitor}`),
      clusterSize: 3,
      timeoutMs: 20_000,
    });
    expect(['node-1', 'node-2', 'node-3']).toContain(leader);

    // a service host: NATS_URL lists every node, credentials.json is the one the secrets came from
    const config = loadRuntimeConfig({ dataDir }, { NATS_URL: HOSTS.map((h) => `nats://${h}:${client}`).join(',') });
    const endpoint = await resolveNatsEndpoint(config);
    const admin = await connectAs(endpoint, 'admin', 'test-hosts-admin', 10_000);
    try {
      expect(await provision(admin.nc)).toEqual({ replicas: 3 });
      const info = await (await jetstreamManager(admin.nc)).streams.info(STREAMS.conn);
      expect(info.config.num_replicas).toBe(3);
      // the least-privilege users of nats.conf hold on the cluster too
      const watcher = await connectAs(endpoint, 'watcher', 'test-hosts-watcher', 10_000);
      try {
        await expect(watcher.nc.request('$JS.API.STREAM.DELETE.CONN', '', { timeout: 2_000 })).rejects.toThrow();
      } finally {
        await watcher.close();
      }
    } finally {
      await admin.close();
    }
  }, 45_000);
});
