import type { NatsConnection } from '@nats-io/transport-node';
import { fromPromise, type SnapshotFrom } from 'xstate';
import { esp32LinkMachine, summarizeEsp32Link, type KeySyncInput } from '../../machines/esp32Link.ts';
import { createKeyReconciler, type KeyStore, type KeySyncResult } from '../../machines/lib/keySync.ts';
import { componentLogger, type Logger } from '../log/logger.ts';
import { hostActor, type HostedActor, type RecordSink } from '../runtime/host.ts';
import { statePath } from '../runtime/statePath.ts';
import { loadStoredKeys } from './keyStore.ts';
import { createPingResponder } from './linkPing.ts';
import { linkTimingOf, type LinkSpec } from './linkSpec.ts';
import { createRadioConnection, type RadioConnectionStats } from './radioConnection.ts';

export type LinkActor = HostedActor<typeof esp32LinkMachine>;

const STOP_RECORD_WAIT_MS = 5_000;

export interface Esp32LinkOptions {
  /** The link's NATS connection (user `link`): key store, ping requests. */
  nc: NatsConnection;
  sink: RecordSink;
  spec: LinkSpec;
  logger?: Logger;
  /** Skip reading `mesh_nodes` (tests that start from an empty key store). */
  storedKeys?: KeyStore;
  inspect?: Parameters<typeof hostActor>[0]['inspect'];
}

export interface Esp32Link {
  readonly hosted: LinkActor;
  readonly stats: RadioConnectionStats;
  /** Full dotted state path, e.g. `ready.synced`. */
  state(): string;
  /** The link ends `stopped` (its socket closed); resolves once that is recorded. */
  stop(): Promise<void>;
}

/**
 * The key sync as the service runs it: the machine's pure reconciliation, spread over
 * the event loop `chunkSize` nodes at a time (with an optional pause), so the link keeps
 * answering pings and reading frames while a large database syncs. Stopped (timeout,
 * link lost) it stops between two chunks.
 */
export function chunkedKeySync(chunkSize: number, pauseMs: number) {
  return fromPromise<KeySyncResult, KeySyncInput>(async ({ input, signal }) => {
    const reconciler = createKeyReconciler(input.stored);
    for (let i = 0; i < input.nodes.length; i++) {
      reconciler.add(input.nodes[i]!);
      if ((i + 1) % chunkSize === 0 && i + 1 < input.nodes.length) {
        await new Promise<void>((resolve) => (pauseMs > 0 ? setTimeout(resolve, pauseMs) : setImmediate(resolve)));
        if (signal.aborted) throw new Error('key sync stopped');
      }
    }
    return reconciler.result();
  });
}

/** Starts one ESP32 link: its actor (kind `link`) on a real TCP socket, and its ping responder. */
export async function startEsp32Link(options: Esp32LinkOptions): Promise<Esp32Link> {
  const { spec, nc } = options;
  const log = options.logger ?? componentLogger('esp32-link', { link: spec.name });
  const storedKeys = options.storedKeys ?? (await loadStoredKeys(nc, spec.name, log).catch((err: Error) => {
    log.error({ err: err.message }, 'could not read mesh_nodes: starting with an empty key store (keys are added again, earlier key-change flags are not carried over)');
    return {};
  }));
  const stats: RadioConnectionStats = { frames: 0, garbageBytes: 0, oversizedHeaders: 0, rejectedFrames: 0 };
  const ping = createPingResponder(spec.name, log);
  const machine = esp32LinkMachine.provide({
    actors: {
      radioConnection: createRadioConnection({ logger: log, keepAliveMs: spec.tcpKeepAliveMs }, stats),
      keySync: chunkedKeySync(spec.keySyncChunkSize, spec.keySyncPauseMs),
    },
    actions: {
      replyPing: ({ self }, { requestId }) => ping.reply(requestId, self.getSnapshot() as SnapshotFrom<typeof esp32LinkMachine>),
    },
  });
  const hosted: LinkActor = hostActor({
    machine,
    kind: 'link',
    id: spec.name,
    input: { linkId: spec.name, host: spec.host, port: spec.port, timing: linkTimingOf(spec), storedKeys },
    sink: options.sink,
    summarize: (s: SnapshotFrom<typeof machine>) => summarizeEsp32Link(s.context),
    errorOf: (s: SnapshotFrom<typeof machine>) => s.context.error ?? undefined,
    logger: log,
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  let lastState = '';
  hosted.actor.subscribe((snapshot) => {
    const state = statePath(snapshot.value);
    if (state === lastState) return;
    const error = snapshot.context.error;
    const level = state === 'failed' ? 'error' : error ? 'warn' : 'info';
    log[level]({ from: lastState || null, to: state, ...(error ? { code: error.code, reason: error.message } : {}) }, `link ${state}`);
    lastState = state;
  });
  ping.listen(nc, (requestId) => hosted.send({ type: 'command.ping', requestId }));
  log.info({ host: spec.host, port: spec.port, storedKeys: Object.keys(storedKeys).length }, 'ESP32 link started');

  return {
    hosted,
    stats,
    state: () => statePath(hosted.actor.getSnapshot().value),
    stop: () =>
      new Promise<void>((resolve) => {
        ping.close();
        if (hosted.actor.getSnapshot().status !== 'active') return resolve();
        // bounded: with NATS unreachable the record waits in the outbox, the link still stops
        setTimeout(resolve, STOP_RECORD_WAIT_MS).unref();
        hosted.send({ type: 'link.stop' }, () => resolve());
      }),
  };
}
