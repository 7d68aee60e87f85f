import { SimRunner } from '../../../infra/device-sim/simRunner.ts';
import { simSource } from '../../telemetry/sources.ts';
import { newSessionId } from '../../telemetry/sessionId.ts';
import { startTelemetryPublisher } from '../../telemetry/telemetryPublisher.ts';
import { componentLogger } from '../../log/logger.ts';
import type { RuntimeConfig } from '../config.ts';
import type { NatsEndpoint } from '../natsEndpoint.ts';
import type { ChildService } from '../services/childServices.ts';
import { openRecordingConnection } from '../services/recordingConnection.ts';
import type { RunningService } from '../services/runningService.ts';
import { loopScript } from './demoBackends.ts';

const DEVICES = 6;
const PREFIX = 'demo-';
const log = componentLogger('demo');

/**
 * Simulated devices (chaos on; demo-3 fails every command, demo-5 crashes on one) that a
 * driver sends a command every second through the hub's REST API.
 */
export function startDemoDevices(config: RuntimeConfig, hubUrl: string): RunningService {
  const runner = new SimRunner(
    { host: config.deviceHost, port: config.devicePort, devices: DEVICES, nodes: 2, prefix: PREFIX, behavior: 'normal', resultDelayMs: 1_500, reconnectDelayMs: 2_000, concurrency: 10, quiet: true },
    (device, text) => log.debug({ device, text }, 'demo device'),
  );
  runner.start();
  runner.perform(`behavior ${PREFIX}3 fail`);
  runner.perform(`behavior ${PREFIX}5 crash-on-command`);
  runner.startChaos({ intervalMs: 4_000, pauseMs: 8_000, seed: 7 });
  let n = 0;
  const driver = setInterval(() => {
    const device = `${config.deviceHost}:${PREFIX}${(n % DEVICES) + 1}`;
    n++;
    const body = JSON.stringify({ node_id: `demo-node-${n}`, command: 'configure', params: { step: n }, instance: 1 + (n % 2) });
    fetch(`${hubUrl}/api/devices/${encodeURIComponent(device)}/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch(() => {});
  }, 1_000);
  return {
    name: 'demo devices',
    address: `${DEVICES} simulated devices (chaos) → ${config.deviceHost}:${config.devicePort}`,
    state: () => `${runner.connectedCount}/${DEVICES} connected`,
    stop: async () => {
      clearInterval(driver);
      await runner.stop(true);
    },
  };
}

/** A race telemetry publisher (the built-in race simulator at 10 Hz) in this process. */
export async function startDemoTelemetry(endpoint: NatsEndpoint): Promise<RunningService> {
  const sessionId = newSessionId();
  const recording = await openRecordingConnection(endpoint, 'telemetry', 'telemetry-publisher', { connectionName: 'lifeline-demo-telemetry' });
  const creds = endpoint.credentials?.telemetry;
  const publisher = startTelemetryPublisher({ servers: endpoint.url, ...(creds ? { user: creds.user, pass: creds.password } : {}), sessionId, sink: recording.outbox });
  let stopping = false;
  const pump = (async () => {
    for await (const item of simSource(10)) {
      if (stopping) break;
      if (item.type === 'setup') publisher.setSetup(item.setup);
      else publisher.publish(item.data);
    }
  })().catch((err: Error) => log.error({ err }, 'demo telemetry source failed'));
  return {
    name: 'demo telemetry',
    address: `session ${sessionId}`,
    state: () => publisher.stats().state,
    stop: async () => {
      stopping = true;
      await pump;
      await publisher.stop();
      await recording.close();
    },
  };
}

/** Kills the Flask app now and then (SIGKILL), so the child supervisor shows a crash and a restart. */
export function startChildChaos(children: ChildService[]): RunningService {
  const kill = (): void => {
    for (const c of children) {
      const pid = c.supervisor.summary().pid;
      if (typeof pid !== 'number') continue;
      log.info({ child: c.supervisor.name, pid }, 'demo: killing the child');
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  const script = loopScript([
    { ms: 15_000, run: () => {} },
    { ms: 10_000, run: kill },
  ]);
  return { name: 'demo child chaos', address: 'SIGKILL to each child every 25 s', state: () => 'running', stop: async () => script.stop() };
}
