import { join } from 'node:path';
import {
  DEFAULT_NATS_CONFIG,
  findNatsServerBinary,
  loadOrCreateCredentials,
  natsServerEnv,
  type Credentials,
} from '../../infra/nats/index.ts';
import type { TransitionRecord } from '../bus/schemas/transitionRecord.ts';
import { childSpecSchema } from '../child-supervisor/childSpec.ts';
import { startChildSupervisor, type ChildSupervisor } from '../child-supervisor/childSupervisor.ts';
import { resolveChild } from '../child-supervisor/resolveChild.ts';
import { componentLogger } from '../log/logger.ts';
import type { RecordSink } from '../runtime/host.ts';
import type { RuntimeConfig } from './config.ts';

/** Holds records until the outbox exists: the supervisor of NATS starts before NATS does. */
export interface DeferredSink extends RecordSink {
  attach(target: RecordSink): void;
  /** NATS is going away: the supervisor's last transitions (stopping → stopped) cannot be recorded in it. */
  detach(): void;
}

export function createDeferredSink(): DeferredSink {
  let target: RecordSink | null = null;
  const held: Array<[TransitionRecord, (() => void) | undefined]> = [];
  return {
    enqueue(record, onStored) {
      if (target) target.enqueue(record, onStored);
      else held.push([record, onStored]);
    },
    attach(next) {
      target = next;
      for (const [record, onStored] of held.splice(0)) next.enqueue(record, onStored);
    },
    detach() {
      const log = componentLogger('nats-supervisor');
      target = {
        enqueue: (record) => log.info({ seq: record.seq, to: record.to }, 'not recorded: NATS itself is stopping'),
      };
    },
  };
}

export interface SupervisedNats {
  url: string;
  wsUrl: string;
  monitorUrl: string;
  credentials: Credentials;
  supervisor: ChildSupervisor;
  /** Where the supervisor's records go once NATS is up (an outbox on it). */
  sink: DeferredSink;
  stop(): Promise<void>;
}

export class NatsStartError extends Error {
  readonly code = 'NATS_SERVER_START_FAILED';
}

/**
 * `lifeline up` runs the bundled nats-server as a supervised child (kind `child`, name
 * `nats-server`): pre-flight (binary, port), spawn with nats.conf and the generated
 * credentials, health checks on /healthz, restarts within the budget, and it dies with
 * this process. Its transitions are recorded once NATS is up (held until then).
 */
export async function superviseBundledNats(config: RuntimeConfig, startTimeoutMs = 30_000): Promise<SupervisedNats> {
  const binary = findNatsServerBinary();
  const credentials = await loadOrCreateCredentials(config.dataDir);
  const ports = { client: config.natsPort, websocket: config.natsWsPort, monitor: config.natsMonitorPort };
  const spec = childSpecSchema.parse({
    name: 'nats-server',
    command: binary,
    args: ['-c', DEFAULT_NATS_CONFIG, '-l', join(config.dataDir, 'nats-server.log')],
    cwd: config.dataDir,
    env: natsServerEnv(ports, join(config.dataDir, 'jetstream'), credentials),
    port: ports.client,
    healthUrl: `http://127.0.0.1:${ports.monitor}/healthz`,
  });
  const sink = createDeferredSink();
  const supervisor = startChildSupervisor({
    child: resolveChild(spec, config.dataDir),
    sink,
    logger: componentLogger('nats-supervisor'),
  });
  const state = await supervisor
    .waitFor((path) => path.startsWith('ready') || path.startsWith('failed'), startTimeoutMs)
    .catch(() => 'timeout');
  if (!state.startsWith('ready')) {
    const error = supervisor.summary().last_error;
    await supervisor.close().catch(() => {});
    throw new NatsStartError(
      error ? `${error.code}: ${error.message} (see ${join(config.dataDir, 'nats-server.log')})` : `nats-server not healthy within ${startTimeoutMs} ms`,
    );
  }
  const host = '127.0.0.1';
  return {
    url: `nats://${host}:${ports.client}`,
    wsUrl: `ws://${host}:${ports.websocket}`,
    monitorUrl: `http://${host}:${ports.monitor}`,
    credentials,
    supervisor,
    sink,
    stop: () => supervisor.close(),
  };
}
