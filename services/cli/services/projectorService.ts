import { Worker } from 'node:worker_threads';
import { leaseSettingsFromEnv } from '../../bus/schemas/leases.ts';
import type { ProjectorRole } from '../../projector/leaderLease.ts';
import type { ProjectorStats } from '../../projector/projector.ts';
import { startStandbyProjector, type StandbyProjector } from '../../projector/projectorStandby.ts';
import { fromProjectorThreadSchema, type ProjectorThreadData, type ToProjectorThread } from '../../projector/thread/threadMessages.ts';
import { componentLogger } from '../../log/logger.ts';
import { connectAs, type NatsEndpoint } from '../natsEndpoint.ts';
import type { RunningService } from './runningService.ts';

/** What the rest of the process sees of the projector, wherever it runs. */
export type ProjectorHandle = Pick<StandbyProjector, 'role' | 'stats' | 'holder'>;

export interface ProjectorService extends RunningService {
  projector: ProjectorHandle;
}

export interface ProjectorServiceOptions {
  leaseTtlMs?: number;
}

/**
 * The young generation of the projector's thread (V8 splits it into two semi-spaces and
 * a large-object space: 192 MB is 64 MB semi-spaces, 4× Node's default). The projector
 * holds every batch it has announced but not yet written for up to 250 ms, so under load
 * most of what it allocates outlives a small young generation and is copied again and
 * again: with the default, garbage collection took a third of its time (bench: record
 * pipeline, +35 % records per second with this). Set on the thread, not the process, so
 * the device gateway's memory per connection stays small.
 */
export const PROJECTOR_SEMI_SPACE_MB = 64;
const PROJECTOR_YOUNG_GENERATION_MB = 3 * PROJECTOR_SEMI_SPACE_MB;
const STOP_TIMEOUT_MS = 15_000;

/**
 * The projector, active or standby: several may run, one consumes (docs/scale-out.md).
 * It runs in its own worker thread (its own event loop and heap settings) and resolves
 * once it has settled into its first role (consuming, when no other is active). If the
 * thread fails, the process exits with code 1: a process that serves without its
 * projector would be lying about its state.
 */
export async function startProjectorService(endpoint: NatsEndpoint, options: ProjectorServiceOptions = {}): Promise<ProjectorService> {
  const log = componentLogger('projector');
  const data: ProjectorThreadData = { endpoint, ...(options.leaseTtlMs !== undefined ? { leaseTtlMs: options.leaseTtlMs } : {}) };
  const worker = new Worker(new URL('../../projector/thread/projectorThread.mjs', import.meta.url), {
    workerData: data,
    resourceLimits: { maxYoungGenerationSizeMb: PROJECTOR_YOUNG_GENERATION_MB },
  });
  let role: ProjectorRole = 'standby';
  let stats: ProjectorStats = { applied: 0, rejected: 0, batches: 0, writeFailures: 0 };
  let holder = '';
  let stopping = false;
  let ready!: () => void;
  let failed!: (err: Error) => void;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  let stopped!: () => void;
  const stoppedMessage = new Promise<void>((resolve) => (stopped = resolve));

  let isReady = false;
  const fail = (why: string): void => {
    failed(new Error(why));
    if (stopping || !isReady) return; // before it was ready, startProjectorService rejects
    log.fatal({ err: why }, 'the projector thread failed: exiting');
    process.exit(1);
  };
  worker.on('message', (raw: unknown) => {
    const message = fromProjectorThreadSchema.safeParse(raw);
    if (!message.success) return log.warn({ err: message.error.message }, 'projector thread: message ignored');
    const m = message.data;
    if (m.type === 'status') {
      role = m.role;
      stats = m.stats;
    } else if (m.type === 'ready') {
      holder = m.holder;
      isReady = true;
      ready();
    } else if (m.type === 'stopped') stopped();
    else fail(m.message);
  });
  worker.on('error', (err) => fail(err.message));
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  void exited.then((code) => {
    stopped();
    if (!stopping) fail(`the projector thread exited (code ${code})`);
  });

  await started;
  return {
    name: 'projector',
    address: 'consumers CONN/projector, COMMANDS/projector, TELEMETRY/projector (when active), in its own thread',
    state: () => `${role}, ${stats.applied} applied`,
    projector: { role: () => role, stats: () => ({ ...stats }), holder },
    stop: async () => {
      stopping = true;
      worker.postMessage({ type: 'stop' } satisfies ToProjectorThread);
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS).unref());
      if ((await Promise.race([stoppedMessage, timeout])) === 'timeout') log.warn('the projector thread did not stop in time: terminating it');
      await worker.terminate();
      await exited;
    },
  };
}

/** The projector in the calling thread (the projector's own thread runs this). */
export async function startProjectorHere(endpoint: NatsEndpoint, options: ProjectorServiceOptions = {}): Promise<RunningService & { projector: StandbyProjector }> {
  const bus = await connectAs(endpoint, 'projector', 'lifeline-projector');
  const projector = await startStandbyProjector({
    nc: bus.nc,
    logger: componentLogger('projector'),
    leaseTtlMs: options.leaseTtlMs ?? leaseSettingsFromEnv().projectorLeaseTtlMs,
  });
  await projector.ready;
  return {
    name: 'projector',
    address: 'consumers CONN/projector, COMMANDS/projector, TELEMETRY/projector (when active)',
    state: () => `${projector.role()}, ${projector.stats().applied} applied`,
    projector,
    stop: async () => {
      await projector.stop();
      await bus.close();
    },
  };
}
