import type { SnapshotFrom } from 'xstate';
import { fromPromise } from 'xstate';
import {
  childProcessMachine,
  summarizeChildProcess,
  type ChildProcessEvent,
  type ChildProcessSummary,
  type HealthProbeInput,
  type HealthResult,
  type PreflightResult,
} from '../../machines/childProcess.ts';
import type { ErrorEvent } from '../../machines/lib/errorEvent.ts';
import { componentLogger, type Logger } from '../log/logger.ts';
import { hostActor, type HostedActor, type HostOptions, type RecordSink } from '../runtime/host.ts';
import { statePath } from '../runtime/statePath.ts';
import { probeHealth } from './healthProbe.ts';
import { runPreflight } from './preflight.ts';
import type { ResolvedChild } from './resolveChild.ts';
import { spawnChildProcess, type SpawnedChild } from './spawnChild.ts';

type Machine = typeof childProcessMachine;
export type ChildActor = HostedActor<Machine>;

export interface ChildSupervisorOptions {
  child: ResolvedChild;
  sink: RecordSink;
  logger?: Logger;
  inspect?: HostOptions<Machine>['inspect'];
  /** [0, 1) source of the restart jitter (tests pin it). */
  random?: () => number;
}

export interface ChildSupervisor {
  readonly name: string;
  readonly child: ResolvedChild;
  readonly hosted: ChildActor;
  /** The full dotted state path (`starting.healthChecking.waiting`). */
  state(): string;
  summary(): ChildProcessSummary;
  /** Starts a `failed` or `stopped` child again (fresh restart budget); ignored otherwise. */
  start(): void;
  /** Stops the child (SIGTERM, SIGKILL after shutdownTimeout); resolves once it is `stopped`. */
  stop(): Promise<void>;
  /** stop(), then ends the actor: the supervisor is done. */
  close(): Promise<void>;
  /** Resolves with the state path once `accept` holds (rejects after timeoutMs). */
  waitFor(accept: (path: string, summary: ChildProcessSummary) => boolean, timeoutMs: number): Promise<string>;
}

const STOP_MARGIN_MS = 2_000;

/**
 * Supervises one child: hosts the childProcess machine (every transition a record in
 * `sink`) and provides its I/O — the pre-flight, the spawn (process group, dies with
 * this process), signals, and the health probe — and logs every health attempt, state
 * change and error with its troubleshooting steps.
 */
export function startChildSupervisor(options: ChildSupervisorOptions): ChildSupervisor {
  const { child } = options;
  const name = child.spec.name;
  const log = options.logger ?? componentLogger('child-supervisor', { child: name });
  const runs = new Map<number, SpawnedChild>();
  let hosted: ChildActor | undefined;
  const send = (event: ChildProcessEvent): void => {
    if (hosted && hosted.actor.getSnapshot().status === 'active') hosted.send(event);
  };

  const machine = childProcessMachine.provide({
    actors: {
      preflight: fromPromise<PreflightResult, { attempt: number }>(async ({ input }) => {
        const result = await runPreflight(child);
        if (!result.ok) log.warn({ attempt: input.attempt, code: result.code }, `pre-flight: ${result.message}`);
        return result;
      }),
      probeHealth: fromPromise<HealthResult, HealthProbeInput>(async ({ input }) => {
        const result = await probeHealth(input.url, input.timeoutMs);
        if (input.phase === 'startup') {
          const of = `${input.attempt}/${child.timing.healthCheckMaxRetries}`;
          if (result.ok) log.info({ attempt: input.attempt, ms: result.durationMs }, `health check ${of}: ${result.reason}`);
          else log.info({ attempt: input.attempt, url: input.url }, `health check ${of} failed: ${result.reason}`);
        } else if (!result.ok) log.warn({ failures: input.attempt, url: input.url }, `liveness check failed: ${result.reason}`);
        return result;
      }),
    },
    actions: {
      spawnProcess: (_, { run, command, args }) => {
        log.info({ run, command, args, cwd: child.cwd }, 'spawning');
        try {
          const spawned = spawnChildProcess({
            command,
            args,
            cwd: child.cwd,
            env: child.env,
            stderrLines: child.spec.stderrLines,
            logger: log.child({ run }),
            onSpawned: (pid) => send({ type: 'process.spawned', run, pid }),
            onSpawnFailed: (message) => {
              runs.delete(run);
              send({ type: 'process.spawnFailed', run, message });
            },
            onExited: (exit) => {
              runs.delete(run);
              log.info({ run, code: exit.code, signal: exit.signal }, 'process exited');
              send({ type: 'process.exited', run, code: exit.code, signal: exit.signal, stderr: exit.stderr });
            },
          });
          runs.set(run, spawned);
        } catch (err) {
          queueMicrotask(() => send({ type: 'process.spawnFailed', run, message: (err as Error).message }));
        }
      },
      signalProcess: (_, { run, signal }) => {
        const spawned = runs.get(run);
        if (!spawned) return;
        log.info({ run, pid: spawned.pid, signal }, `sending ${signal}`);
        spawned.signal(signal);
      },
    },
  });

  let lastPath = '';
  let lastError: ErrorEvent | null = null;
  hosted = hostActor({
    machine,
    kind: 'child',
    id: name,
    input: { child: child.description, autoRestart: child.spec.autoRestart, timing: child.timing, ...(options.random ? { random: options.random } : {}) },
    sink: options.sink,
    summarize: (s: SnapshotFrom<Machine>) => summarizeChildProcess(s.context),
    errorOf: (s: SnapshotFrom<Machine>) => s.context.error ?? undefined,
    logger: log,
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  const actor = hosted.actor;
  const onSnapshot = (snapshot: SnapshotFrom<Machine>): void => {
    const path = statePath(snapshot.value);
    const error = snapshot.context.error;
    if (error && error !== lastError) {
      log.error(
        { code: error.code, troubleshooting: error.details?.troubleshooting, stderr: error.details?.stderr },
        `${error.code}: ${error.message}\n  try: ${((error.details?.troubleshooting as string[] | undefined) ?? []).join('\n  try: ')}`,
      );
    }
    lastError = error;
    if (path !== lastPath) {
      const summary = summarizeChildProcess(snapshot.context);
      log.info({ from: lastPath || null, to: path, pid: summary.pid, restart_attempts: summary.restart_attempts }, `${name}: ${path}`);
      lastPath = path;
    }
  };
  onSnapshot(actor.getSnapshot());
  actor.subscribe(onSnapshot);

  const current = (): string => statePath(actor.getSnapshot().value);
  const summary = (): ChildProcessSummary => summarizeChildProcess(actor.getSnapshot().context);
  const waitFor: ChildSupervisor['waitFor'] = (accept, timeoutMs) =>
    new Promise((resolve, reject) => {
      if (accept(current(), summary())) return resolve(current());
      const timer = setTimeout(() => {
        sub.unsubscribe();
        reject(new Error(`child ${name}: still ${current()} after ${timeoutMs} ms`));
      }, timeoutMs);
      const sub = actor.subscribe((snapshot) => {
        const path = statePath(snapshot.value);
        if (!accept(path, summarizeChildProcess(snapshot.context))) return;
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(path);
      });
    });

  const stop = async (): Promise<void> => {
    if (actor.getSnapshot().status !== 'active') return;
    send({ type: 'child.stop' });
    try {
      await waitFor((path) => path === 'stopped', child.timing.shutdownTimeoutMs + STOP_MARGIN_MS);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'the child did not stop in time: killing its process group');
      for (const spawned of runs.values()) spawned.signal('SIGKILL');
      await Promise.race([Promise.all([...runs.values()].map((r) => r.exited)), new Promise((r) => setTimeout(r, STOP_MARGIN_MS))]);
    }
  };

  return {
    name,
    child,
    hosted,
    state: current,
    summary,
    start: () => send({ type: 'child.start' }),
    stop,
    close: async () => {
      await stop();
      hosted!.stop();
    },
    waitFor,
  };
}
