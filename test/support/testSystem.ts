import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { DeviceTiming } from '../../machines/deviceSocket.ts';
import { freePorts, startNatsServer, type Credentials, type NatsServerHandle } from '../../infra/nats/index.ts';
import type { Bus } from '../../services/bus/connection.ts';
import { provision } from '../../services/bus/provision.ts';
import { parseJsonWith } from '../../services/bus/schemas/parse.ts';
import { transitionRecordSchema, type TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { loadRuntimeConfig, type RuntimeConfig } from '../../services/cli/config.ts';
import { connectAs, type NatsEndpoint } from '../../services/cli/natsEndpoint.ts';
import { startGatewayService, type GatewayService } from '../../services/cli/services/gatewayService.ts';
import { startHubService, type HubService } from '../../services/cli/services/hubService.ts';
import { startProjectorService, type ProjectorService } from '../../services/cli/services/projectorService.ts';
import type { HubOptions } from '../../services/hub/hub.ts';
import { waitFor } from './waitFor.ts';

export interface TestSystemOptions {
  timing?: Partial<DeviceTiming>;
  helloTimeoutMs?: number;
  /** Start the in-process projector (default true); false when a test runs its own. */
  projector?: boolean;
  /** Start the in-process device gateway (default true); false when a test runs its own process. */
  gateway?: boolean;
  outboxCapacity?: number;
  /** The hub's WebSocket client timings (queue bound, ping, heartbeat). */
  hubWs?: HubOptions['ws'];
  /**
   * Run on servers the test started itself (e.g. a cluster's `natsUrl`, a comma-separated
   * list, and its credentials) instead of a nats-server of its own; stop() leaves them running.
   */
  servers?: { url: string; credentials: Credentials };
}

export interface TestSystem {
  dataDir: string;
  /** The system's own nats-server; throws when started with `servers`. */
  readonly nats: NatsServerHandle;
  endpoint: NatsEndpoint;
  config: RuntimeConfig;
  /** The in-process gateway; throws when started with `gateway: false`. */
  readonly gateway: GatewayService;
  hub: HubService;
  projector: ProjectorService | null;
  httpUrl: string;
  devicePort: number;
  /** An admin connection for looking at KV and streams. */
  admin: Bus;
  /** Every record seen on `conn.device.>` (core subscription, in arrival order). */
  records: TransitionRecord[];
  recordsOf(deviceId: string): TransitionRecord[];
  kvEntries(bucket: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * A real system for integration tests: its own nats-server (free ports, temporary
 * store, the bundled nats.conf with per-service users), provisioning, and the
 * projector, hub and device gateway in this process, each with its own NATS user.
 */
export async function startTestSystem(options: TestSystemOptions = {}): Promise<TestSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lifeline-test-'));
  const [httpPort, devicePort] = await freePorts(2);
  const nats = options.servers ? null : await startNatsServer({ dataDir });
  const endpoint: NatsEndpoint = nats ? { url: nats.url, credentials: nats.credentials } : { ...options.servers! };
  const config = loadRuntimeConfig({ dataDir, natsUrl: endpoint.url, httpPort, devicePort }, {});
  const admin = await connectAs(endpoint, 'admin', 'test-admin', 10_000);
  await provision(admin.nc);
  const records: TransitionRecord[] = [];
  admin.nc.subscribe('conn.device.>', {
    callback: (_err, msg) => {
      const parsed = parseJsonWith(transitionRecordSchema, 'record', msg.data);
      if (parsed.ok) records.push(parsed.value);
    },
  });
  await admin.nc.flush();
  const projector = options.projector === false ? null : await startProjectorService(endpoint);
  const hub = await startHubService(endpoint, config, options.hubWs ? { ws: options.hubWs } : {});
  const gateway = options.gateway === false ? null : await startGatewayService(endpoint, config, {
    ...(options.timing ? { timing: options.timing } : {}),
    ...(options.helloTimeoutMs !== undefined ? { helloTimeoutMs: options.helloTimeoutMs } : {}),
    ...(options.outboxCapacity !== undefined ? { outboxCapacity: options.outboxCapacity } : {}),
  });
  const httpUrl = hub.hub.url;
  if (projector) await waitFor(async () => (await fetch(`${httpUrl}/healthz`)).status === 200, 10_000, 'hub /healthz 200');

  const kvm = new Kvm(admin.nc);
  return {
    dataDir,
    get nats(): NatsServerHandle {
      if (!nats) throw new Error('this test system runs on servers the test started (servers option)');
      return nats;
    },
    endpoint,
    config,
    get gateway(): GatewayService {
      if (!gateway) throw new Error('this test system runs no in-process gateway (gateway: false)');
      return gateway;
    },
    hub,
    projector,
    httpUrl,
    devicePort: gateway?.gateway.port ?? devicePort!,
    admin,
    records,
    recordsOf: (deviceId) => records.filter((r) => r.id === deviceId),
    async kvEntries(bucket) {
      const kv = await kvm.open(bucket);
      const out: Record<string, unknown> = {};
      for await (const key of await kv.keys()) {
        const entry = await kv.get(key);
        if (entry?.operation === 'PUT') out[key] = entry.json();
      }
      return out;
    },
    async stop() {
      await gateway?.stop().catch(() => {});
      await hub.stop().catch(() => {});
      await projector?.stop().catch(() => {});
      await admin.close().catch(() => {});
      await nats?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** HTTP helpers against the hub. */
export async function postCommand(sys: TestSystem, deviceId: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${sys.httpUrl}/api/devices/${encodeURIComponent(deviceId)}/commands`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

export async function getJson(sys: TestSystem, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${sys.httpUrl}${path}`);
  return { status: res.status, body: await res.json() };
}

export async function flowStatus(sys: TestSystem, nodeId: string): Promise<string | undefined> {
  const { status, body } = await getJson(sys, `/api/flows/${encodeURIComponent(nodeId)}`);
  return status === 200 ? body.status : undefined;
}
