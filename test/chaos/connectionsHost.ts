/**
 * The chaos run's connections host, a real process: the child supervisors (the Flask app),
 * the ESP32 links and the RPC pollers of a lifeline.config.json, and one race telemetry
 * publisher (infra/race-sim through simSource) — the services `lifeline up` hosts besides
 * projector, hub and gateway, here against the chaos run's NATS.
 *
 *   node --import tsx test/chaos/connectionsHost.ts --nats-url URL --data-dir DIR --config FILE [--rate HZ]
 *
 * Prints `connections running session <id>` once up. On SIGTERM it stops everything (each
 * outbox drains, bounded) and prints one line `connections-stats <json>`: the outbox
 * counters of every recording connection (from /metrics' registry) and the publisher's
 * sample counters, which the chaos checks compare with what NATS stored.
 */
import { parseArgs } from 'node:util';
import { register } from 'prom-client';
import { loadLifelineConfig } from '../../services/config/lifelineConfig.ts';
import { loadRuntimeConfig } from '../../services/cli/config.ts';
import { resolveNatsEndpoint } from '../../services/cli/natsEndpoint.ts';
import { startRecordedTelemetryPublisher } from '../../services/cli/services/recordedTelemetryPublisher.ts';
import { startChildServices } from '../../services/cli/services/childServices.ts';
import { startLinkServices } from '../../services/cli/services/linkServices.ts';
import { startPollerServices } from '../../services/cli/services/rpcPollerServices.ts';
import type { RunningService } from '../../services/cli/services/runningService.ts';
import { componentLogger } from '../../services/log/logger.ts';
import { newSessionId } from '../../services/telemetry/sessionId.ts';
import { CONNECTIONS_READY, CONNECTIONS_STATS, type ConnectionsStats } from './connectionsStats.ts';
import { simSource } from '../../services/telemetry/sources.ts';

const log = componentLogger('chaos-connections-host');

async function outboxCounters(): Promise<ConnectionsStats['outboxes']> {
  const out: ConnectionsStats['outboxes'] = {};
  const names = { lifeline_outbox_published: 'published', lifeline_outbox_queued: 'queued', lifeline_outbox_in_flight: 'inFlight', lifeline_outbox_dropped: 'dropped', lifeline_outbox_gap_records: 'gapRecords' } as const;
  for (const metric of await register.getMetricsAsJSON()) {
    const field = names[metric.name as keyof typeof names];
    if (!field) continue;
    for (const v of metric.values) {
      const service = String(v.labels.service);
      out[service] ??= { published: 0, queued: 0, inFlight: 0, dropped: 0, gapRecords: 0 };
      out[service][field] = v.value;
    }
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'nats-url': { type: 'string' }, 'data-dir': { type: 'string' }, config: { type: 'string' }, rate: { type: 'string', default: '20' } },
  });
  const config = loadRuntimeConfig({ dataDir: values['data-dir'], natsUrl: values['nats-url'], configFile: values.config });
  const endpoint = await resolveNatsEndpoint(config);
  const declared = loadLifelineConfig(values.config);
  const services: RunningService[] = [];
  services.push(...(await startChildServices(endpoint, config, declared.children)));
  services.push(...(await startLinkServices(endpoint, config, declared.links)));
  services.push(...(await startPollerServices(endpoint, declared.pollers)));

  const sessionId = newSessionId();
  const { publisher, recording } = await startRecordedTelemetryPublisher(endpoint, {
    sessionId,
    timing: { reconnectDelayInitialMs: 200, reconnectDelayMaxMs: 1_000, stableAfterMs: 2_000 },
    connectionPrefix: 'chaos',
  });
  let stopping = false;
  const feed = (async () => {
    for await (const item of simSource(Number(values.rate), 0, 7)) {
      if (stopping) break;
      if (item.type === 'setup') publisher.setSetup(item.setup);
      else publisher.publish(item.data);
    }
  })();
  process.stdout.write(`${CONNECTIONS_READY} session ${sessionId}\n`);

  // `on`, not `once`: infra/nats/exitHooks (the Flask child's no-orphan hook) re-raises a
  // signal that no other listener handles, and a `once` listener is gone by then
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await feed.catch(() => {});
      // let the buffered samples go out (bounded), then stop the publisher and the services
      const deadline = Date.now() + 5_000;
      while (publisher.stats().buffered > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await publisher.stop();
      for (const s of [...services].reverse()) await s.stop().catch((err: Error) => log.error({ err, service: s.name }, 'stop failed'));
      await recording.close();
      const p = publisher.stats();
      const stats: ConnectionsStats = {
        outboxes: await outboxCounters(),
        telemetry: { sessionId, published: p.published, dropped: p.dropped, buffered: p.buffered },
      };
      process.stdout.write(`${CONNECTIONS_STATS}${JSON.stringify(stats)}\n`, () => process.exit(0));
    })();
  });
}

await main();
