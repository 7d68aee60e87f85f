import { mkdirSync } from 'node:fs';
import { NatsServerNotFoundError } from '../../infra/nats/index.ts';
import { NatsStartError, superviseBundledNats, type SupervisedNats } from './natsSupervision.ts';
import { openRecordingConnection, type RecordingConnection } from './services/recordingConnection.ts';
import { provision } from '../bus/provision.ts';
import { componentLogger } from '../log/logger.ts';
import type { RuntimeConfig } from './config.ts';
import { connectAs, removeServerFile, resolveNatsEndpoint, writeServerFile, type NatsEndpoint } from './natsEndpoint.ts';
import type { RunningService } from './services/runningService.ts';
import { CORE_SERVICES, DECLARED_SERVICES } from './services/catalog.ts';
import { loadLifelineConfig, type LifelineConfig } from '../config/lifelineConfig.ts';
import { loadDemoConfig } from './demo/demoConfig.ts';
import { startDemoBackends } from './demo/demoBackends.ts';
import { startChildChaos, startDemoDevices, startDemoTelemetry } from './demo/demoTraffic.ts';
import type { ChildService } from './services/childServices.ts';
import { startInspector } from './inspector.ts';

const log = componentLogger('lifeline-up');

export interface System {
  endpoint: NatsEndpoint;
  /** The bundled nats-server, supervised as a child; null with NATS_URL. */
  nats: SupervisedNats | null;
  services: RunningService[];
  stop(): Promise<void>;
}

export interface SystemOptions {
  /** The declared connections (default: the configuration file's). */
  declared?: LifelineConfig & { path: string | null };
  /** Started right before the declared children, links and pollers (the demo's peers). */
  before?: () => Promise<RunningService[]>;
  /** Started last (the demo's traffic); gets what is running so far. */
  after?: (endpoint: NatsEndpoint, services: RunningService[]) => Promise<RunningService[]>;
}

/** Starts NATS (unless NATS_URL is set), provisions, then every service, in order. */
export async function startSystem(config: RuntimeConfig, progress: (line: string) => void = () => {}, options: SystemOptions = {}): Promise<System> {
  mkdirSync(config.dataDir, { recursive: true });
  let nats: SupervisedNats | null = null;
  let natsRecorder: RecordingConnection | null = null;
  let endpoint: NatsEndpoint;
  const services: RunningService[] = [];
  const stop = async (): Promise<void> => {
    for (const service of [...services].reverse()) {
      progress(`stopping ${service.name}`);
      await service.stop().catch((err: Error) => log.error({ err, service: service.name }, 'stop failed'));
    }
    await natsRecorder?.close().catch(() => {});
    nats?.sink.detach();
    if (nats) {
      progress('stopping nats-server');
      await nats.stop();
      removeServerFile(config.dataDir);
    }
  };
  try {
    if (config.natsUrl) {
      endpoint = await resolveNatsEndpoint(config);
      progress(`using NATS at ${config.natsUrl}`);
    } else {
      progress('starting nats-server (supervised: child nats-server)');
      nats = await superviseBundledNats(config);
      writeServerFile(config.dataDir, { url: nats.url, wsUrl: nats.wsUrl, monitorUrl: nats.monitorUrl, pid: nats.supervisor.summary().pid ?? 0 });
      endpoint = { url: nats.url, credentials: nats.credentials };
    }
    progress('provisioning streams CONN, COMMANDS and the projection buckets');
    const admin = await connectAs(endpoint, 'admin', 'lifeline-provision', 15_000);
    await provision(admin.nc);
    await admin.close();
    if (nats) {
      // the supervisor of NATS records its own transitions once NATS is there
      natsRecorder = await openRecordingConnection(endpoint, 'child', 'nats-supervisor');
      nats.sink.attach(natsRecorder.outbox);
    }
    for (const service of CORE_SERVICES) {
      progress(`starting ${service.label}`);
      services.push(await service.start(endpoint, config));
    }
    const declared = options.declared ?? loadLifelineConfig(config.configFile);
    if (declared.path) progress(`configuration: ${declared.path}`);
    if (options.before) {
      progress('starting demo peers: RPC backend (flapping), ESP32 emulator (silent now and then)');
      services.push(...(await options.before()));
    }
    for (const service of DECLARED_SERVICES) {
      for (const spec of declared[service.section]) progress(`starting ${service.label} ${spec.name}`);
      services.push(...(await service.start(endpoint, config, declared)));
    }
    if (options.after) {
      progress('starting demo traffic: simulated devices (chaos), race telemetry, child crashes');
      services.push(...(await options.after(endpoint, services)));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, nats, services, stop };
}

export function summaryTable(system: System): string {
  const rows: Array<[string, string, string]> = [];
  if (system.nats) {
    rows.push(['nats-server', system.nats.supervisor.state(), `${system.nats.url} (ws ${system.nats.wsUrl}, monitor ${system.nats.monitorUrl})`]);
  } else rows.push(['nats', 'external', system.endpoint.url]);
  for (const s of system.services) rows.push([s.name, s.state(), s.address]);
  const w0 = Math.max(7, ...rows.map((r) => r[0].length));
  const w1 = Math.max(5, ...rows.map((r) => r[1].length));
  const line = (r: [string, string, string]) => `  ${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`;
  return [line(['service', 'state', 'address']), ...rows.map(line)].join('\n');
}

/** `lifeline up`: runs until Ctrl-C (graceful, reverse order); a second Ctrl-C forces exit. */
export interface UpOptions {
  /** infra/demo.config.json plus the peers and traffic of infra/. */
  demo?: boolean;
  /** Attach the Stately inspector (@statelyai/inspect) on this port. */
  inspectPort?: number;
}

/** The demo: infra/demo.config.json, its peers before the declared services, traffic after. */
export function demoOptions(config: RuntimeConfig): SystemOptions {
  const { declared, ports } = loadDemoConfig();
  return {
    declared,
    before: () => startDemoBackends(ports),
    after: async (endpoint, services) => {
      const hub = services.find((s) => s.name === 'hub');
      const hubUrl = hub?.address.split(' ')[0] ?? `http://${config.httpHost}:${config.httpPort}`;
      const children = services.filter((s): s is ChildService => 'supervisor' in s);
      return [startDemoDevices(config, hubUrl), await startDemoTelemetry(endpoint), startChildChaos(children)];
    },
  };
}

export async function runUp(config: RuntimeConfig, options: UpOptions = {}): Promise<number> {
  const print = (line: string): void => void process.stdout.write(`${line}\n`);
  let system: System;
  const inspector = options.inspectPort !== undefined ? startInspector(options.inspectPort) : null;
  if (inspector) print(`• Stately inspector: ${inspector.url} (open it in a browser; the hosted inspector needs internet)`);
  try {
    system = await startSystem(config, (line) => print(`• ${line}`), options.demo ? demoOptions(config) : {});
    if (inspector) system.services.unshift(inspector);
  } catch (err) {
    await inspector?.stop();
    if (err instanceof NatsServerNotFoundError || err instanceof NatsStartError) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  print('\nLifeline is up.\n');
  print(summaryTable(system));
  const hub = system.services.find((s) => s.name === 'hub');
  print(`\n  Dashboard/API: ${hub?.address.split(' ')[0] ?? ''}/  ·  watch transitions: npx lifeline watch  ·  Ctrl-C stops\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string): void => {
      if (stopping) {
        print(`\n${signal} again: forcing exit`);
        process.exit(130);
      }
      stopping = true;
      print(`\n${signal}: shutting down (Ctrl-C again to force)`);
      system.stop().then(
        () => resolve(0),
        (err: Error) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
  });
}
