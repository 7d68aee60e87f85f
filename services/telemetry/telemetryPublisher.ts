import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { fromCallback, fromPromise, type SnapshotFrom } from 'xstate';
import {
  retryMessage,
  summarizeTelemetryPublisher,
  telemetryPublisherMachine,
  type ConnectInput,
  type OutboundMessage,
  type PublisherTiming,
  type SenderCommand,
  type TelemetryPublisherEvent,
} from '../../machines/telemetryPublisher.ts';
import { natsServerList } from '../bus/serverList.ts';
import { subjects } from '../bus/subjects.ts';
import { componentLogger, type Logger } from '../log/logger.ts';
import { hostActor, type HostedActor, type RecordSink } from '../runtime/host.ts';
import { newIncarnation } from '../runtime/incarnation.ts';
import { statePath } from '../runtime/statePath.ts';

export type TelemetryPublisherActor = HostedActor<typeof telemetryPublisherMachine>;
type Snapshot = SnapshotFrom<typeof telemetryPublisherMachine>;

const STOP_RECORD_WAIT_MS = 5_000;

export interface TelemetryPublisherOptions {
  /** NATS server URL(s); the publisher's own connection (user `telemetry`). */
  servers: string | string[];
  user?: string;
  pass?: string;
  sessionId: string;
  setup?: Record<string, unknown> | null;
  /** Where the actor's transition records go (an outbox). */
  sink: RecordSink;
  timing?: Partial<PublisherTiming>;
  /** One connect attempt and one publish ack must come within this (default 2 s). */
  requestTimeoutMs?: number;
  logger?: Logger;
  inspect?: Parameters<typeof hostActor>[0]['inspect'];
}

export interface TelemetryPublisherStats {
  state: string;
  buffered: number;
  published: number;
  dropped: number;
  connections: number;
  attempt: number;
  rttMs: number | null;
  pingLoss: number;
}

export interface TelemetryPublisher {
  readonly sessionId: string;
  readonly hosted: TelemetryPublisherActor;
  /** Queues one sample (`lap`, `fuel`, `position`, `speed`, …) for publishing. */
  publish(data: Record<string, unknown>): void;
  /** Replaces the setup; it is sent at once when connected and after every reconnect. */
  setSetup(setup: Record<string, unknown>): void;
  stats(): TelemetryPublisherStats;
  /** Ends `stopped` (connection closed); resolves once that record is stored (bounded). */
  stop(): Promise<void>;
}

interface Link {
  nc: NatsConnection;
  js: JetStreamClient;
}

/**
 * A telemetry publisher (kind `telemetry`, id = session id): the pure machine with its
 * NATS I/O. Its connection has the client's reconnect turned off: a lost connection
 * closes, the machine sees `link.lost` and drives the reconnect with its own backoff.
 * Setup, data and gap messages go to stream TELEMETRY (JetStream publish, acked; a
 * sample's `Nats-Msg-Id` is `session:incarnation:seq`, so a batch re-sent after a lost
 * ack is stored once).
 */
export function startTelemetryPublisher(options: TelemetryPublisherOptions): TelemetryPublisher {
  const { sessionId } = options;
  const log = options.logger ?? componentLogger('telemetry-publisher', { session: sessionId });
  const timeout = options.requestTimeoutMs ?? 2_000;
  const incarnation = newIncarnation();
  let current: Link | null = null;

  const need = (): Link => {
    if (!current) throw new Error('not connected');
    return current;
  };
  const quality = (): { rtt_ms: number | null; ping_loss: number } => {
    const q = (hosted.actor.getSnapshot() as Snapshot).context.quality;
    return { rtt_ms: q.rtt_ms, ping_loss: q.pings === 0 ? 0 : q.lost / q.pings };
  };
  const encode = (m: OutboundMessage): { subject: string; payload: string; msgID: string } => {
    if (m.kind === 'gap') {
      return {
        subject: subjects.telemetry(sessionId, 'gap'),
        payload: JSON.stringify({ v: 1, session_id: sessionId, incarnation, at: new Date().toISOString(), ...m.gap, dropped_total: m.dropped_total }),
        msgID: `${sessionId}:${incarnation}:gap:${m.gap.first_seq}-${m.gap.last_seq}`,
      };
    }
    const s = m.sample;
    return {
      subject: subjects.telemetry(sessionId, 'data'),
      payload: JSON.stringify({ ...s.data, v: 1, session_id: sessionId, incarnation, seq: s.seq, at: s.at, quality: quality() }),
      msgID: `${sessionId}:${incarnation}:${s.seq}`,
    };
  };

  const machine = telemetryPublisherMachine.provide({
    actors: {
      connect: fromPromise<void, ConnectInput>(async ({ input, signal }) => {
        const nc = await connect({
          servers: natsServerList(options.servers),
          ...(options.user ? { user: options.user, pass: options.pass } : {}),
          name: `lifeline-telemetry-${sessionId}`,
          reconnect: false,
          timeout,
          pingInterval: 5_000,
          maxPingOut: 2,
          noAsyncTraces: true,
        });
        if (signal.aborted) {
          await nc.close();
          return;
        }
        current = { nc, js: jetstream(nc, { timeout }) };
        log.info({ attempt: input.attempt, server: nc.getServer() }, 'connected to NATS');
      }),
      link: fromCallback<TelemetryPublisherEvent, { pingIntervalMs: number }>(({ sendBack, input }) => {
        const link = current;
        if (!link) {
          sendBack({ type: 'link.lost', message: 'no connection' });
          return () => {};
        }
        let stopped = false;
        void link.nc.closed().then((err) => {
          if (!stopped) sendBack({ type: 'link.lost', message: err ? err.message : 'connection closed' });
        });
        const timer = setInterval(() => {
          const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('ping timeout')), input.pingIntervalMs).unref());
          Promise.race([link.nc.rtt(), deadline]).then(
            (rttMs) => !stopped && sendBack({ type: 'ping.result', rttMs }),
            () => !stopped && sendBack({ type: 'ping.lost' }),
          );
        }, input.pingIntervalMs);
        return () => {
          stopped = true;
          clearInterval(timer);
          if (current === link) current = null;
          void link.nc.close().catch(() => {});
        };
      }),
      publishSetup: fromPromise<void, { setup: Record<string, unknown> }>(async ({ input }) => {
        const payload = { v: 1, session_id: sessionId, incarnation, at: new Date().toISOString(), setup: input.setup };
        await need().js.publish(subjects.telemetry(sessionId, 'setup'), JSON.stringify(payload));
      }),
      sender: fromCallback<SenderCommand>(({ sendBack, receive }) => {
        let alive = true;
        receive((command) => {
          void (async () => {
            try {
              const { js } = need();
              const messages = command.messages.map(encode);
              await Promise.all(messages.map((m) => js.publish(m.subject, m.payload, { msgID: m.msgID })));
              const count = command.messages.filter((m) => m.kind === 'data').length;
              if (alive) sendBack({ type: 'batch.stored', lastSeq: command.lastSeq, count });
            } catch (err) {
              if (alive) sendBack({ type: 'batch.failed', message: (err as Error).message });
            }
          })();
        });
        sendBack({ type: 'sender.ready' });
        return () => {
          alive = false;
        };
      }),
    },
    actions: {
      logRetry: ({ context }) => log.warn({ attempt: context.attempt, retryInMs: context.retryInMs, code: context.error?.code }, retryMessage(context)),
    },
  });

  const hosted: TelemetryPublisherActor = hostActor({
    machine,
    kind: 'telemetry',
    id: sessionId,
    incarnation,
    input: { sessionId, setup: options.setup ?? null, ...(options.timing ? { timing: options.timing } : {}) },
    sink: options.sink,
    summarize: (snapshot) => summarizeTelemetryPublisher(snapshot.context),
    errorOf: (snapshot) => snapshot.context.error,
    logger: log,
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });

  return {
    sessionId,
    hosted,
    publish: (data) => hosted.send({ type: 'telemetry', data }),
    setSetup: (setup) => hosted.send({ type: 'setup', setup }),
    stats() {
      const snapshot = hosted.actor.getSnapshot() as Snapshot;
      const c = snapshot.context;
      return {
        state: statePath(snapshot.value),
        buffered: c.buffer.length,
        published: c.published,
        dropped: c.droppedTotal,
        connections: c.connections,
        attempt: c.attempt,
        rttMs: c.quality.rtt_ms,
        pingLoss: c.quality.pings === 0 ? 0 : c.quality.lost / c.quality.pings,
      };
    },
    async stop() {
      if (hosted.actor.getSnapshot().status !== 'active') return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STOP_RECORD_WAIT_MS);
        hosted.send({ type: 'publisher.stop' }, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      hosted.stop();
    },
  };
}
