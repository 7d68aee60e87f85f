import { Kvm } from '@nats-io/kv';
import { sessionKey, type SessionPart } from '../../services/bus/schemas/telemetry.ts';
import { BUCKETS } from '../../services/bus/subjects.ts';
import type { PublisherTiming } from '../../machines/telemetryPublisher.ts';
import { openRecordingConnection, type RecordingConnection } from '../../services/cli/services/recordingConnection.ts';
import { startTelemetryPublisher, type TelemetryPublisher } from '../../services/telemetry/telemetryPublisher.ts';
import type { TestSystem } from './testSystem.ts';

export interface TestPublisher {
  publisher: TelemetryPublisher;
  recording: RecordingConnection;
  /** Publishes a sim-like sample every `intervalMs` until stopped; returns how many so far. */
  stream(intervalMs: number): { count(): number; stop(): void };
  close(): Promise<void>;
}

/** An in-process telemetry publisher of `sessionId` against the test system's NATS (user `telemetry`). */
export async function startTestPublisher(sys: TestSystem, sessionId: string, timing: Partial<PublisherTiming> = {}): Promise<TestPublisher> {
  const recording = await openRecordingConnection(sys.endpoint, 'telemetry', `telemetry-${sessionId}`);
  const creds = sys.endpoint.credentials!.telemetry;
  const publisher = startTelemetryPublisher({
    servers: sys.endpoint.url,
    user: creds.user,
    pass: creds.password,
    sessionId,
    setup: { track: 'test ring', car: sessionId },
    sink: recording.outbox,
    timing: { reconnectDelayInitialMs: 100, reconnectDelayMaxMs: 500, pingIntervalMs: 500, ...timing },
    requestTimeoutMs: 1_000,
  });
  const timers = new Set<NodeJS.Timeout>();
  return {
    publisher,
    recording,
    stream(intervalMs) {
      let n = 0;
      const timer = setInterval(() => {
        n += 1;
        publisher.publish({ lap: 1 + Math.floor(n / 100), fuel: 100 - n * 0.01, position: 3, speed: 200 });
      }, intervalMs);
      timers.add(timer);
      return {
        count: () => n,
        stop: () => {
          clearInterval(timer);
          timers.delete(timer);
        },
      };
    },
    async close() {
      for (const t of timers) clearInterval(t);
      await publisher.stop();
      await recording.close();
    },
  };
}

/**
 * One entry of bucket `sessions` (a get, not a key listing: listing keys of a bucket
 * that is being written can stall).
 */
export async function sessionEntry<T = Record<string, any>>(sys: TestSystem, sessionId: string, part: SessionPart): Promise<T | undefined> {
  const kv = await new Kvm(sys.admin.nc).open(BUCKETS.sessions);
  const entry = await kv.get(sessionKey(sessionId, part));
  return entry?.operation === 'PUT' ? (entry.json() as T) : undefined;
}
