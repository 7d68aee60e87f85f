import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { PublisherTiming } from '../../machines/telemetryPublisher.ts';
import { formatIssues } from '../bus/schemas/parse.ts';
import { componentLogger } from '../log/logger.ts';
import { resolveSessionId } from '../telemetry/sessionId.ts';
import { fileSource, simSource, SourceLineError, type SourceItem } from '../telemetry/sources.ts';
import { ConfigError, loadRuntimeConfig } from './config.ts';
import { NatsNotRunningError, resolveNatsEndpoint } from './natsEndpoint.ts';
import { startRecordedTelemetryPublisher } from './services/recordedTelemetryPublisher.ts';

const USAGE = `usage: lifeline publish --source FILE|sim [--session S | --new-session] [options]

  --session S                  publish as session S (stored in the data directory)
  --new-session                start a new session instead of the stored one
  --source FILE|sim            a JSON-lines file, or the built-in race simulator
  --rate HZ                    samples a second (sim: 10; file: 0 = as fast as read)
  --count N                    sim: stop after N samples (default: run until Ctrl-C)
  --reconnect-delay-initial MS first reconnect backoff (default 1000)
  --reconnect-delay-max MS     backoff cap (default 60000)
  --stable-after MS            connected this long resets the attempt count (default 10000)
  --buffer N                   samples kept while disconnected (default 10000)
  --ping-interval MS           round-trip measurement cadence (default 2000)
  --data-dir DIR, --nats-url URL  as for every lifeline command
`;

const ms = z.coerce.number().int().positive();
const flagsSchema = z.object({
  source: z.string().min(1),
  rate: z.coerce.number().nonnegative().optional(),
  count: z.coerce.number().int().nonnegative().default(0),
  'reconnect-delay-initial': ms.optional(),
  'reconnect-delay-max': ms.optional(),
  'stable-after': ms.optional(),
  buffer: ms.optional(),
  'ping-interval': ms.optional(),
});

/** `lifeline publish`: the race monitor. Prints `session <id>` first, then runs until its source ends or Ctrl-C. */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        session: { type: 'string' },
        'new-session': { type: 'boolean' },
        source: { type: 'string' },
        rate: { type: 'string' },
        count: { type: 'string' },
        'reconnect-delay-initial': { type: 'string' },
        'reconnect-delay-max': { type: 'string' },
        'stable-after': { type: 'string' },
        buffer: { type: 'string' },
        'ping-interval': { type: 'string' },
        'data-dir': { type: 'string' },
        'nats-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`lifeline publish: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const flags = flagsSchema.safeParse(values);
  if (!flags.success) {
    process.stderr.write(`lifeline publish: ${formatIssues(flags.error)}\n${USAGE}`);
    return 2;
  }
  const f = flags.data;
  const log = componentLogger('publish');
  let endpoint;
  let config;
  try {
    config = loadRuntimeConfig({ dataDir: values['data-dir'], natsUrl: values['nats-url'] });
    endpoint = await resolveNatsEndpoint(config);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof NatsNotRunningError) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const { sessionId, created } = resolveSessionId(config.dataDir, {
    ...(values.session ? { session: values.session } : {}),
    newSession: values['new-session'] ?? false,
  });
  const timing: Partial<PublisherTiming> = {
    ...(f['reconnect-delay-initial'] ? { reconnectDelayInitialMs: f['reconnect-delay-initial'] } : {}),
    ...(f['reconnect-delay-max'] ? { reconnectDelayMaxMs: f['reconnect-delay-max'] } : {}),
    ...(f['stable-after'] ? { stableAfterMs: f['stable-after'] } : {}),
    ...(f.buffer ? { bufferCapacity: f.buffer } : {}),
    ...(f['ping-interval'] ? { pingIntervalMs: f['ping-interval'] } : {}),
  };
  process.stdout.write(`session ${sessionId}${created ? ' (new)' : ''}\n`);

  const { publisher, recording } = await startRecordedTelemetryPublisher(endpoint, { sessionId, timing, connectionPrefix: 'lifeline' });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await publisher.stop();
    await recording.close();
  };
  const onSignal = (): void => void stop().then(() => process.exit(0));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const source: AsyncGenerator<SourceItem> = f.source === 'sim' ? simSource(f.rate ?? 10, f.count) : fileSource(f.source, f.rate ?? 0);
  try {
    for await (const item of source) {
      if (stopping) break;
      if (item.type === 'setup') publisher.setSetup(item.setup);
      else publisher.publish(item.data);
    }
  } catch (err) {
    if (err instanceof SourceLineError) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      await stop();
      return 1;
    }
    throw err;
  }
  // the source ended: wait for the buffer to drain (reconnecting as long as it takes)
  while (!stopping && publisher.stats().buffered > 0) await new Promise((r) => setTimeout(r, 50));
  const stats = publisher.stats();
  log.info(stats, 'source ended');
  process.stdout.write(`published ${stats.published} dropped ${stats.dropped}\n`);
  await stop();
  return 0;
}
