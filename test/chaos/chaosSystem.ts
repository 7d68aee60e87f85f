import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../infra/nats/index.ts';
import type { Bus } from '../../services/bus/connection.ts';
import { provision } from '../../services/bus/provision.ts';
import { connectAs } from '../../services/cli/natsEndpoint.ts';
import { waitFor } from '../support/waitFor.ts';
import { CONNECTIONS_READY, CONNECTIONS_STATS, connectionsStatsSchema, type ConnectionsStats } from './connectionsStats.ts';
import { startTopology, type NatsTopology, type TopologyKind } from './natsTopology.ts';
import { ProcessLedger, type ManagedProcess } from './processes.ts';

/**
 * The real system a chaos run works against: NATS (a pluggable topology), and as real
 * processes the projector(s), the hub, the device gateway, the RPC backend, the ESP32
 * emulator and the connections host (Flask child supervisor, ESP32 link, RPC poller,
 * telemetry publisher). Every role can be killed and started again on the same ports.
 */

const FLASK_APP = fileURLToPath(new URL('../../infra/flask-app/app.py', import.meta.url));

/** Device timings short enough that a hung command or a silent device ends within the settle period. */
export const CHAOS_DEVICE_ENV = {
  LIFELINE_DEVICE_ACK_TIMEOUT_MS: '2000',
  LIFELINE_DEVICE_RESULT_TIMEOUT_MS: '4000',
  LIFELINE_DEVICE_HEARTBEAT_INTERVAL_MS: '1000',
  LIFELINE_DEVICE_SILENT_TIMEOUT_MS: '5000',
  LIFELINE_DEVICE_HELLO_TIMEOUT_MS: '2000',
};

export type Role = 'projector' | 'hub' | 'gateway' | 'rpc-backend' | 'esp32-emulator' | 'connections';

export interface ChaosSystemOptions {
  /** Default single-node. */
  topology?: TopologyKind;
  /** Projector processes at once (2 once a standby exists: one active, one waiting). */
  projectors?: number;
}

export interface ChaosSystem {
  dataDir: string;
  nats: NatsTopology;
  ledger: ProcessLedger;
  admin: Bus;
  httpUrl: string;
  devicePort: number;
  flaskPort: number;
  gatewayName: string;
  /** The running process of a role (the first projector for `projector`). */
  process(role: Role): ManagedProcess | undefined;
  projectors(): ManagedProcess[];
  /** How many projector processes should run (active + standby). */
  projectorTarget: number;
  /** Starts the role (again) on its ports and waits until it says it runs. */
  start(role: Role): Promise<ManagedProcess>;
  /** SIGKILL (an expected exit). */
  kill(role: Role): Promise<void>;
  /** SIGTERM on the connections host; its final counters. */
  stopConnections(): Promise<ConnectionsStats>;
  telemetrySession(): string;
  stop(): Promise<void>;
}

export async function startChaosSystem(options: ChaosSystemOptions = {}): Promise<ChaosSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lifeline-chaos-'));
  const ledger = new ProcessLedger();
  const [httpPort, devicePort, rpcPort, radioPort, flaskPort] = (await freePorts(5)) as [number, number, number, number, number];
  const nats = await startTopology(options.topology ?? 'single-node', dataDir);
  const admin = await connectAs(nats.endpoint, 'admin', 'chaos-admin', 10_000);
  await provision(admin.nc, { replicas: nats.replicas });
  const gatewayName = 'chaos-gw';

  const configFile = join(dataDir, 'chaos.config.json');
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        children: [
          {
            name: 'flask',
            script: FLASK_APP,
            requires: ['flask', 'flask_cors'],
            port: flaskPort,
            healthCheckInterval: 200,
            restartDelay: 200,
            restartMaxDelay: 1_000,
            maxRestartAttempts: 1_000,
            restartWindow: 60_000,
            livenessInterval: 1_000,
          },
        ],
        links: [
          {
            name: 'radio',
            host: '127.0.0.1',
            port: radioPort,
            connectTimeoutMs: 2_000,
            configTimeoutMs: 5_000,
            heartbeatIntervalMs: 1_000,
            silentTimeoutMs: 3_000,
            cleanupDelayMs: 300,
            backoffInitialMs: 200,
            backoffMaxMs: 1_000,
            maxAttempts: 1_000,
            slowRetryIntervalMs: 1_000,
          },
        ],
        pollers: [
          {
            name: 'backend',
            url: `http://127.0.0.1:${rpcPort}/rpc`,
            intervalMs: 300,
            callTimeoutMs: 800,
            slowCallMs: 600,
            windowMs: 5_000,
            minimumCalls: 5,
            openDurationMs: 1_000,
            probeIntervalMs: 400,
          },
        ],
      },
      null,
      2,
    ),
  );

  const common = ['--nats-url', nats.url, '--data-dir', dataDir];
  const current = new Map<Role, ManagedProcess>();
  const projectorProcs: ManagedProcess[] = [];
  let session = '';

  const spawnRole = (role: Role): { proc: ManagedProcess; ready: string } => {
    switch (role) {
      case 'projector':
        return { proc: ledger.lifeline('projector', ['run', 'projector', ...common]), ready: 'projector running' };
      case 'hub':
        return { proc: ledger.lifeline('hub', ['run', 'hub', ...common, '--http-port', String(httpPort)]), ready: 'hub running' };
      case 'gateway':
        return {
          proc: ledger.lifeline('gateway', ['run', 'device-gateway', ...common, '--device-port', String(devicePort), '--gateway-name', gatewayName], CHAOS_DEVICE_ENV),
          ready: 'device-gateway running',
        };
      case 'rpc-backend':
        return { proc: ledger.script('rpc-backend', 'infra/rpc-backend/cli.ts', ['--port', String(rpcPort)]), ready: 'rpc-backend listening' };
      case 'esp32-emulator':
        return { proc: ledger.script('esp32-emulator', 'infra/esp32-emulator/cli.ts', ['--port', String(radioPort), '--nodes', '12']), ready: 'ESP32 emulator on' };
      case 'connections':
        return { proc: ledger.script('connections', 'test/chaos/connectionsHost.ts', [...common, '--config', configFile]), ready: CONNECTIONS_READY };
    }
  };

  const start = async (role: Role): Promise<ManagedProcess> => {
    // one process per role (projectors aside): never two gateways of one name on one port
    const running = role === 'projector' ? undefined : current.get(role);
    if (running?.running) return running;
    const { proc, ready } = spawnRole(role);
    if (role === 'projector') projectorProcs.push(proc);
    else current.set(role, proc);
    await proc.waitForOutput(ready, 45_000);
    if (role === 'connections') session = /session (\S+)/.exec(proc.output())?.[1] ?? '';
    return proc;
  };

  const system: ChaosSystem = {
    dataDir,
    nats,
    ledger,
    admin,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    devicePort,
    flaskPort,
    gatewayName,
    process: (role) => (role === 'projector' ? projectorProcs.find((p) => p.running) : current.get(role)),
    projectors: () => projectorProcs.filter((p) => p.running),
    projectorTarget: options.projectors ?? 1,
    start,
    kill: async (role) => {
      if (role === 'projector') {
        const victim = projectorProcs.find((p) => p.running);
        if (victim) await victim.kill('SIGKILL');
        return;
      }
      await current.get(role)?.kill('SIGKILL');
    },
    stopConnections: async () => {
      const proc = current.get('connections');
      if (!proc) throw new Error('the connections host is not running');
      const exit = await proc.kill('SIGTERM');
      const line = proc.output().split('\n').find((l) => l.startsWith(CONNECTIONS_STATS));
      if (!line) throw new Error(`the connections host printed no counters (exit ${exit.code ?? exit.signal}):\n${proc.output().slice(-3_000)}`);
      return connectionsStatsSchema.parse(JSON.parse(line.slice(CONNECTIONS_STATS.length)));
    },
    telemetrySession: () => session,
    stop: async () => {
      for (const role of ['connections', 'gateway', 'hub'] as const) await current.get(role)?.kill('SIGTERM').catch(() => undefined);
      await ledger.killAll();
      await admin.close().catch(() => {});
      await nats.stop().catch(() => {});
      if (!process.env.CHAOS_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
    },
  };

  try {
    // every process at once (each connects to NATS, retrying; the peers are reconnected to)
    await Promise.all([
      start('rpc-backend'),
      start('esp32-emulator'),
      ...Array.from({ length: options.projectors ?? 1 }, () => start('projector')),
      start('hub'),
      start('gateway'),
      start('connections'),
    ]);
    await waitFor(async () => (await fetch(`${system.httpUrl}/healthz`)).status === 200, 20_000, 'hub /healthz 200');
  } catch (err) {
    await system.stop();
    throw err;
  }
  return system;
}
