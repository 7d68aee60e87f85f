import { and, assign, cancel, enqueueActions, fromPromise, raise, setup, spawnChild, stopChild } from 'xstate';
import { backoffDelay } from './lib/backoff.ts';
import {
  classifyStderr,
  isRetryableChildError,
  troubleshootingFor,
  type ChildDescription,
  type ChildErrorCode,
} from './lib/childErrors.ts';
import { createErrorEvent, type ErrorEvent } from './lib/errorEvent.ts';
import { allowsRestart, recordRestart } from './lib/restartBudget.ts';

/**
 * One supervised child process (kind `child`) in the vocabulary of an OTP supervisor:
 * the child spec is the input, a crash restarts it after an exponential backoff, and
 * more than MaxR restarts in MaxT escalate to `failed`, where it stays until asked to
 * start again. Pure: the process is reached only through the named actions
 * `spawnProcess` and `signalProcess` and the named actors `preflight` and `probeHealth`,
 * which the supervisor (services/child-supervisor) provides with `machine.provide(...)`;
 * the process's life comes back as `process.*` events tagged with the run they belong to.
 *
 *   starting.validating ─ok─► starting.spawning ─spawned─► starting.healthChecking ─healthy─► ready
 *        │ retryable: validationWait ⟲ (validationRetries)          │ crash / no health            │ crash / health lost
 *        └ otherwise ─► failed                                        ▼                              ▼
 *                                     restarting.terminating ─► restarting.backoff ─► starting   (budget left)
 *                                     failed.terminating ─► failed.idle ─child.start─► starting  (budget exhausted)
 *   any running state ─child.stop─► stopping (SIGTERM; SIGKILL after shutdownTimeout) ─exited─► stopped
 *
 * External mode (`child.external`): nothing is spawned; the machine only health checks
 * the service, and keeps re-checking with backoff when it goes away (it never gives up).
 */

export type { ChildDescription, ChildErrorCode } from './lib/childErrors.ts';

export interface ChildTiming {
  /** Pre-flight validation is tried again this many times when it fails for a retryable reason (port in use). */
  validationRetries: number;
  validationRetryDelayMs: number;
  /** Wait before the first health check after the spawn; then × healthCheckBackoff per attempt. */
  healthCheckIntervalMs: number;
  healthCheckBackoff: number;
  healthCheckMaxIntervalMs: number;
  /** Health checks after a spawn, at most. */
  healthCheckMaxRetries: number;
  /** From the spawn to a healthy answer, at most. */
  healthCheckTimeoutMs: number;
  /** One health request, at most. */
  healthCheckRequestTimeoutMs: number;
  /** While ready, a health check every this many ms (0: none). */
  livenessIntervalMs: number;
  /** Consecutive failed checks while ready that count as a failure (HEALTH_CHECK_FAILED). */
  livenessFailures: number;
  /** First restart delay; doubles per consecutive restart up to restartMaxDelayMs, ± restartJitter. */
  restartDelayMs: number;
  restartMaxDelayMs: number;
  restartJitter: number;
  /** MaxR: restarts allowed within restartWindowMs (MaxT). */
  maxRestartAttempts: number;
  restartWindowMs: number;
  /** Ready this long without a failure resets the consecutive-restart counter (the backoff). */
  stablePeriodMs: number;
  /** After SIGTERM, wait this long before SIGKILL. */
  shutdownTimeoutMs: number;
}

export const DEFAULT_CHILD_TIMING: ChildTiming = {
  validationRetries: 2,
  validationRetryDelayMs: 1_000,
  healthCheckIntervalMs: 500,
  healthCheckBackoff: 1.2,
  healthCheckMaxIntervalMs: 2_000,
  healthCheckMaxRetries: 20,
  healthCheckTimeoutMs: 30_000,
  healthCheckRequestTimeoutMs: 2_000,
  livenessIntervalMs: 10_000,
  livenessFailures: 3,
  restartDelayMs: 2_000,
  restartMaxDelayMs: 30_000,
  restartJitter: 0.1,
  maxRestartAttempts: 3,
  restartWindowMs: 60_000,
  stablePeriodMs: 30_000,
  shutdownTimeoutMs: 5_000,
};

export interface ChildProcessInput {
  child: ChildDescription;
  /** false: a failure goes straight to `failed` (OTP `temporary`). */
  autoRestart?: boolean;
  timing?: Partial<ChildTiming>;
  now?: () => number;
  /** [0, 1) source of the restart jitter. */
  random?: () => number;
}

/** What the pre-flight found: the command line to spawn, or why not. */
export type PreflightResult =
  | { ok: true; command: string; args: string[] }
  | { ok: false; code: ChildErrorCode; message: string; details?: Record<string, unknown> };

export interface HealthProbeInput {
  url: string;
  timeoutMs: number;
  attempt: number;
  phase: 'startup' | 'liveness';
}

export interface HealthResult {
  ok: boolean;
  /** `HTTP 200`, `connection refused`, `timeout after 2000 ms`, … */
  reason: string;
  status?: number;
  durationMs: number;
}

export interface HealthCheck extends HealthResult {
  at: number;
  attempt: number;
}

export interface ProcessExit {
  code: number | null;
  signal: string | null;
  at: number;
}

export interface ChildProcessContext {
  child: ChildDescription;
  autoRestart: boolean;
  timing: ChildTiming;
  now: () => number;
  random: () => number;
  /** OS processes started so far; process events carry the run they belong to. */
  run: number;
  pid: number | null;
  spawnedAt: number | null;
  /** The command line the last pre-flight resolved. */
  command: { command: string; args: string[] } | null;
  validationAttempt: number;
  healthAttempt: number;
  lastHealthCheck: HealthCheck | null;
  livenessFailures: number;
  /** Consecutive restarts (the backoff exponent); reset after stablePeriodMs of ready. */
  restartAttempts: number;
  /** Restart times inside the window (the MaxR-in-MaxT budget). */
  restartHistory: number[];
  /** The delay of the pending restart. */
  restartDelayMs: number | null;
  readySince: number | null;
  lastExit: ProcessExit | null;
  /** The latest error; kept after recovery (the status API's `last_error`). */
  error: ErrorEvent | null;
}

export type ChildProcessEvent =
  | { type: 'child.start' }
  | { type: 'child.stop' }
  | { type: 'process.spawned'; run: number; pid: number }
  | { type: 'process.spawnFailed'; run: number; message: string }
  | { type: 'process.exited'; run: number; code: number | null; signal: string | null; stderr: string[] }
  | { type: 'timer.healthTimeout' }
  | { type: 'timer.liveness' }
  | { type: 'timer.stable' }
  | { type: 'xstate.done.actor.liveness'; output: HealthResult }
  | { type: 'xstate.error.actor.liveness'; error: unknown };

type AnyChildEvent = ChildProcessEvent | { type: string; output?: unknown; error?: unknown };

const COMPONENT = 'child-process';
const HEALTH_TIMEOUT_TIMER = 'healthTimeout';
const LIVENESS_TIMER = 'liveness';
const STABLE_TIMER = 'stable';

export function childError(
  context: Pick<ChildProcessContext, 'child' | 'now' | 'command'>,
  code: ChildErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): ErrorEvent {
  const text = (key: string): string | undefined => (typeof details[key] === 'string' ? (details[key] as string) : undefined);
  const cause = text('cause') as ChildErrorCode | undefined;
  const module = text('module');
  const interpreter = text('interpreter');
  return createErrorEvent({
    code,
    message,
    component: COMPONENT,
    severity: code === 'RESTART_BUDGET_EXHAUSTED' ? 'critical' : 'error',
    retryable: isRetryableChildError(code),
    at: context.now(),
    details: {
      child: context.child.name,
      ...details,
      // the steps name the command line the pre-flight resolved (`auto` → /usr/bin/python3)
      troubleshooting: troubleshootingFor(code, context.command ? { ...context.child, ...context.command } : context.child, {
        ...(module ? { module } : {}),
        ...(cause ? { cause } : {}),
        ...(interpreter ? { interpreter } : {}),
      }),
    },
  });
}

function describeExit(code: number | null, signal: string | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code ?? 'unknown'}`;
}

/** A probe's result, whether its promise resolved or (unexpectedly) rejected. */
function probeResultOf(event: AnyChildEvent): HealthResult | null {
  if (event.type.startsWith('xstate.done.actor.')) return (event as { output: HealthResult }).output;
  if (event.type.startsWith('xstate.error.actor.')) {
    const err = (event as { error?: unknown }).error;
    return { ok: false, reason: `probe error: ${err instanceof Error ? err.message : String(err)}`, durationMs: 0 };
  }
  return null;
}

const isPreflightEvent = (event: AnyChildEvent): boolean => event.type.endsWith('.actor.preflight');

/** The failure an event stands for, in whatever state it arrives. */
export function failureOf(context: ChildProcessContext, event: AnyChildEvent): ErrorEvent {
  const t = context.timing;
  switch (event.type) {
    case 'process.exited': {
      const e = event as Extract<ChildProcessEvent, { type: 'process.exited' }>;
      const stderr = e.stderr; // already the supervisor's ring of the last `stderrLines` lines
      const what = context.readySince !== null ? 'after it was ready' : 'during start-up';
      const known = classifyStderr(stderr, e.code);
      const base = { exit_code: e.code, signal: e.signal, stderr };
      if (known?.code === 'DEPENDENCY_ERROR') {
        const module = known.module ? `module '${known.module}'` : 'a module';
        return childError(context, 'DEPENDENCY_ERROR', `${context.child.name} cannot import ${module}: ${known.line.trim()}`, {
          ...base,
          ...(known.module ? { module: known.module } : {}),
        });
      }
      if (known?.code === 'PORT_IN_USE') {
        return childError(context, 'PORT_IN_USE', `${context.child.name} could not listen on port ${context.child.port ?? '?'}: ${known.line.trim()}`, base);
      }
      if (known?.code === 'PROCESS_SPAWN_ERROR') {
        return childError(context, 'PROCESS_SPAWN_ERROR', `${context.child.name} could not be executed: ${known.line.trim()}`, base);
      }
      return childError(context, 'PROCESS_CRASH', `${context.child.name} ${describeExit(e.code, e.signal)} ${what}`, base);
    }
    case 'process.spawnFailed': {
      const e = event as Extract<ChildProcessEvent, { type: 'process.spawnFailed' }>;
      return childError(context, 'PROCESS_SPAWN_ERROR', `${context.child.name} could not be spawned: ${e.message}`);
    }
    case 'timer.healthTimeout':
      return childError(
        context,
        'HEALTH_CHECK_TIMEOUT',
        `${context.child.name} did not answer ${context.child.healthUrl} healthily within ${t.healthCheckTimeoutMs} ms` +
          (context.lastHealthCheck ? ` (last check: ${context.lastHealthCheck.reason})` : ''),
        { attempts: context.healthAttempt },
      );
    default:
      break;
  }
  if (isPreflightEvent(event)) {
    const output = (event as { output?: PreflightResult }).output;
    if (output && !output.ok) return childError(context, output.code, output.message, output.details ?? {});
    const err = (event as { error?: unknown }).error;
    return childError(context, 'PROCESS_SPAWN_ERROR', `pre-flight of ${context.child.name} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const probe = probeResultOf(event);
  if (probe && event.type.endsWith('.liveness')) {
    return childError(
      context,
      'HEALTH_CHECK_FAILED',
      `${context.child.name} failed ${context.livenessFailures + 1} health checks in a row while ready (last: ${probe.reason})`,
      { url: context.child.healthUrl },
    );
  }
  if (probe) {
    return childError(
      context,
      'HEALTH_CHECK_TIMEOUT',
      `${context.child.name} did not answer ${context.child.healthUrl} healthily after ${context.healthAttempt + 1} checks (last: ${probe.reason})`,
      { attempts: context.healthAttempt + 1 },
    );
  }
  return childError(context, 'PROCESS_CRASH', `${context.child.name} failed (${event.type})`);
}

/** Whether a failure is met with a restart: retryable, auto-restart on, budget left (external: always). */
function mayRestart(context: ChildProcessContext, event: AnyChildEvent): boolean {
  if (isPreflightEvent(event) || !context.autoRestart) return false;
  if (!failureOf(context, event).retryable) return false;
  if (context.child.external) return true;
  return allowsRestart(context.restartHistory, context.now(), budgetOf(context.timing));
}

const budgetOf = (t: ChildTiming) => ({ maxRestarts: t.maxRestartAttempts, windowMs: t.restartWindowMs });

/** The process the last spawn started, unless this very event reports its end. */
function processAlive(context: ChildProcessContext, event: AnyChildEvent): boolean {
  return context.pid !== null && event.type !== 'process.exited';
}

function isCurrentRun(context: ChildProcessContext, event: AnyChildEvent): boolean {
  return (event as { run?: number }).run === context.run;
}

const healthPolicy = (t: ChildTiming) => ({ initialMs: t.healthCheckIntervalMs, factor: t.healthCheckBackoff, maxMs: t.healthCheckMaxIntervalMs });

/**
 * Every failure, wherever it happens, is met by the same supervisor decision: restart
 * (terminating the process first if it still runs) or escalate to `failed`.
 */
const onFailure = [
  { guard: and(['mayRestart', 'processAlive']), target: '#childProcess.restarting.terminating', actions: ['recordFailure', 'scheduleRestart'] },
  { guard: 'mayRestart', target: '#childProcess.restarting.backoff', actions: ['recordFailure', 'scheduleRestart'] },
  { guard: 'processAlive', target: '#childProcess.failed.terminating', actions: ['recordFailure', 'escalate'] },
  { target: '#childProcess.failed.idle', actions: ['recordFailure', 'escalate'] },
] as const;

/** SIGTERM now, SIGKILL after shutdownTimeout, then `next` once the process exited. */
function terminating(next: string) {
  return {
    entry: { type: 'signalProcess', params: ({ context }: { context: ChildProcessContext }) => ({ run: context.run, signal: 'SIGTERM' as const }) },
    after: {
      shutdownTimeout: {
        actions: { type: 'signalProcess', params: ({ context }: { context: ChildProcessContext }) => ({ run: context.run, signal: 'SIGKILL' as const }) },
      },
    },
    on: {
      'process.exited': [{ guard: 'isStaleRun' }, { target: next, actions: 'recordExit' }],
    },
  } as const;
}

const stopTransitions = [
  { guard: 'processAlive', target: '#childProcess.stopping' },
  { target: '#childProcess.stopped' },
] as const;

export const childProcessMachine = setup({
  types: {
    context: {} as ChildProcessContext,
    events: {} as ChildProcessEvent,
    input: {} as ChildProcessInput,
  },
  actors: {
    /** Provided by the supervisor: interpreter, script, dependencies and port, before spawning. */
    preflight: fromPromise<PreflightResult, { attempt: number }>(async () => {
      throw new Error('preflight is provided by the child supervisor');
    }),
    /** Provided by the supervisor: one HTTP GET of the health URL; never rejects. */
    probeHealth: fromPromise<HealthResult, HealthProbeInput>(async () => {
      throw new Error('probeHealth is provided by the child supervisor');
    }),
  },
  actions: {
    /** Provided by the supervisor: start the command; answer with process.spawned/spawnFailed, later process.exited. */
    spawnProcess: (_, _params: { run: number; command: string; args: string[] }) => {},
    /** Provided by the supervisor: signal the process of `run` (its whole process group). */
    signalProcess: (_, _params: { run: number; signal: 'SIGTERM' | 'SIGKILL' }) => {},
    beginStart: assign({ validationAttempt: 0, healthAttempt: 0, restartDelayMs: null, readySince: null, livenessFailures: 0 }),
    noteValidationFailure: assign(({ context, event }) => ({
      validationAttempt: context.validationAttempt + 1,
      error: failureOf(context, event),
    })),
    rememberCommand: assign(({ event }) => {
      const output = (event as { output?: PreflightResult }).output;
      return output?.ok ? { command: { command: output.command, args: output.args } } : {};
    }),
    nextRun: assign(({ context }) => ({ run: context.run + 1 })),
    recordSpawn: assign(({ context, event }) => (event.type === 'process.spawned' ? { pid: event.pid, spawnedAt: context.now() } : {})),
    recordExit: assign(({ context, event }) =>
      event.type === 'process.exited' ? { pid: null, lastExit: { code: event.code, signal: event.signal, at: context.now() } } : {},
    ),
    recordHealthCheck: assign(({ context, event }) => {
      const result = probeResultOf(event);
      if (!result) return {};
      return { healthAttempt: context.healthAttempt + 1, lastHealthCheck: { ...result, at: context.now(), attempt: context.healthAttempt + 1 } };
    }),
    /** The failure becomes the error; an exit or a probe result is recorded with it. */
    recordFailure: assign(({ context, event }) => {
      const update: Partial<ChildProcessContext> = { error: failureOf(context, event) };
      if (event.type === 'process.exited') {
        update.pid = null;
        update.lastExit = { code: event.code, signal: event.signal, at: context.now() };
      }
      const probe = probeResultOf(event);
      if (probe && !isPreflightEvent(event)) {
        const attempt = event.type.endsWith('.liveness') ? context.livenessFailures + 1 : context.healthAttempt + 1;
        update.lastHealthCheck = { ...probe, at: context.now(), attempt };
      }
      return update;
    }),
    scheduleRestart: assign(({ context }) => {
      const t = context.timing;
      const delay = backoffDelay(
        { initialMs: t.restartDelayMs, factor: 2, maxMs: t.restartMaxDelayMs, jitter: t.restartJitter },
        context.restartAttempts,
        context.random,
      );
      return {
        restartAttempts: context.restartAttempts + 1,
        restartHistory: context.child.external ? [] : recordRestart(context.restartHistory, context.now(), budgetOf(t)),
        restartDelayMs: delay,
        readySince: null,
      };
    }),
    /** A retryable failure that may not be restarted any more: the budget is exhausted. */
    escalate: assign(({ context, event }) => {
      const cause = context.error;
      const t = context.timing;
      const base = { readySince: null, restartDelayMs: null };
      // a pre-flight failure or a non-retryable error ends the child as it is
      if (!cause || !cause.retryable || !context.autoRestart || isPreflightEvent(event)) return base;
      return {
        ...base,
        error: childError(
          context,
          'RESTART_BUDGET_EXHAUSTED',
          `${context.child.name} gave up: its restart budget (${t.maxRestartAttempts} in ${t.restartWindowMs} ms) is exhausted; last failure: ${cause.code}: ${cause.message}`,
          { cause: cause.code, last_error: { code: cause.code, message: cause.message, details: cause.details }, max_restarts: t.maxRestartAttempts, window_ms: t.restartWindowMs },
        ),
      };
    }),
    resetBudget: assign({ restartAttempts: 0, restartHistory: [], restartDelayMs: null }),
    markReady: assign(({ context }) => ({ readySince: context.now(), livenessFailures: 0 })),
    resetRestartAttempts: assign({ restartAttempts: 0 }),
    livenessOk: assign(({ context, event }) => {
      if (context.livenessFailures === 0) return {};
      const result = probeResultOf(event)!;
      return { livenessFailures: 0, lastHealthCheck: { ...result, at: context.now(), attempt: 1 } };
    }),
    livenessFailed: assign(({ context, event }) => ({
      livenessFailures: context.livenessFailures + 1,
      lastHealthCheck: { ...probeResultOf(event)!, at: context.now(), attempt: context.livenessFailures + 1 },
    })),
    probeLiveness: spawnChild('probeHealth', {
      id: 'liveness',
      input: ({ context }) => ({
        url: context.child.healthUrl,
        timeoutMs: context.timing.healthCheckRequestTimeoutMs,
        attempt: context.livenessFailures + 1,
        phase: 'liveness' as const,
      }),
    }),
    stopLivenessProbe: stopChild('liveness'),
    armHealthTimeout: raise({ type: 'timer.healthTimeout' }, { id: HEALTH_TIMEOUT_TIMER, delay: 'healthCheckTimeout' }),
    disarmHealthTimeout: cancel(HEALTH_TIMEOUT_TIMER),
    armLiveness: enqueueActions(({ context, enqueue }) => {
      if (context.timing.livenessIntervalMs > 0) enqueue.raise({ type: 'timer.liveness' }, { id: LIVENESS_TIMER, delay: context.timing.livenessIntervalMs });
    }),
    disarmLiveness: cancel(LIVENESS_TIMER),
    armStable: raise({ type: 'timer.stable' }, { id: STABLE_TIMER, delay: 'stablePeriod' }),
    disarmStable: cancel(STABLE_TIMER),
  },
  guards: {
    isExternal: ({ context }) => context.child.external,
    preflightPassed: ({ event }) => (event as { output?: PreflightResult }).output?.ok === true,
    validationRetryLeft: ({ context, event }) => failureOf(context, event).retryable && context.validationAttempt < context.timing.validationRetries,
    probeOk: ({ event }) => probeResultOf(event)?.ok === true,
    healthAttemptsLeft: ({ context }) => context.healthAttempt + 1 < context.timing.healthCheckMaxRetries,
    livenessFailuresLeft: ({ context }) => context.livenessFailures + 1 < context.timing.livenessFailures,
    mayRestart: ({ context, event }) => mayRestart(context, event),
    processAlive: ({ context, event }) => processAlive(context, event),
    isStaleRun: ({ context, event }) => !isCurrentRun(context, event),
    restartCounted: ({ context }) => context.restartAttempts > 0,
  },
  delays: {
    validationRetryDelay: ({ context }) => context.timing.validationRetryDelayMs,
    healthCheckInterval: ({ context }) => backoffDelay(healthPolicy(context.timing), context.healthAttempt),
    healthCheckTimeout: ({ context }) => context.timing.healthCheckTimeoutMs,
    restartDelay: ({ context }) => context.restartDelayMs ?? context.timing.restartDelayMs,
    stablePeriod: ({ context }) => context.timing.stablePeriodMs,
    shutdownTimeout: ({ context }) => context.timing.shutdownTimeoutMs,
  },
}).createMachine({
  id: 'childProcess',
  context: ({ input }) => ({
    child: input.child,
    autoRestart: input.autoRestart ?? true,
    timing: { ...DEFAULT_CHILD_TIMING, ...input.timing },
    now: input.now ?? Date.now,
    random: input.random ?? Math.random,
    run: 0,
    pid: null,
    spawnedAt: null,
    command: null,
    validationAttempt: 0,
    healthAttempt: 0,
    lastHealthCheck: null,
    livenessFailures: 0,
    restartAttempts: 0,
    restartHistory: [],
    restartDelayMs: null,
    readySince: null,
    lastExit: null,
    error: null,
  }),
  initial: 'starting',
  states: {
    starting: {
      entry: 'beginStart',
      initial: 'validating',
      on: {
        'child.stop': stopTransitions,
        'process.exited': [{ guard: 'isStaleRun' }, ...onFailure],
      },
      states: {
        validating: {
          always: { guard: 'isExternal', target: 'healthChecking' },
          invoke: {
            id: 'preflight',
            src: 'preflight',
            input: ({ context }) => ({ attempt: context.validationAttempt + 1 }),
            onDone: [
              { guard: 'preflightPassed', target: 'spawning', actions: 'rememberCommand' },
              { guard: 'validationRetryLeft', target: 'validationWait', actions: 'noteValidationFailure' },
              ...onFailure,
            ],
            onError: [{ guard: 'validationRetryLeft', target: 'validationWait', actions: 'noteValidationFailure' }, ...onFailure],
          },
        },
        validationWait: {
          after: { validationRetryDelay: 'validating' },
        },
        spawning: {
          entry: [
            'nextRun',
            {
              type: 'spawnProcess',
              params: ({ context }) => ({ run: context.run, command: context.command?.command ?? '', args: context.command?.args ?? [] }),
            },
          ],
          on: {
            'process.spawned': [{ guard: 'isStaleRun' }, { target: 'healthChecking', actions: 'recordSpawn' }],
            'process.spawnFailed': [{ guard: 'isStaleRun' }, ...onFailure],
          },
        },
        healthChecking: {
          entry: 'armHealthTimeout',
          exit: 'disarmHealthTimeout',
          on: { 'timer.healthTimeout': onFailure },
          initial: 'waiting',
          states: {
            waiting: {
              after: { healthCheckInterval: 'probing' },
            },
            probing: {
              invoke: {
                id: 'health',
                src: 'probeHealth',
                input: ({ context }) => ({
                  url: context.child.healthUrl,
                  timeoutMs: context.timing.healthCheckRequestTimeoutMs,
                  attempt: context.healthAttempt + 1,
                  phase: 'startup' as const,
                }),
                onDone: [
                  { guard: 'probeOk', target: '#childProcess.ready', actions: 'recordHealthCheck' },
                  { guard: 'healthAttemptsLeft', target: 'waiting', actions: 'recordHealthCheck' },
                  ...onFailure,
                ],
                onError: [{ guard: 'healthAttemptsLeft', target: 'waiting', actions: 'recordHealthCheck' }, ...onFailure],
              },
            },
          },
        },
      },
    },
    ready: {
      entry: ['markReady', 'armLiveness', 'armStable'],
      exit: ['disarmLiveness', 'disarmStable', 'stopLivenessProbe'],
      on: {
        'child.stop': stopTransitions,
        'process.exited': [{ guard: 'isStaleRun' }, ...onFailure],
        'timer.liveness': { actions: 'probeLiveness' },
        'xstate.done.actor.liveness': [
          { guard: 'probeOk', actions: ['livenessOk', 'armLiveness'] },
          { guard: 'livenessFailuresLeft', actions: ['livenessFailed', 'armLiveness'] },
          ...onFailure,
        ],
        'xstate.error.actor.liveness': [{ guard: 'livenessFailuresLeft', actions: ['livenessFailed', 'armLiveness'] }, ...onFailure],
        'timer.stable': { guard: 'restartCounted', actions: 'resetRestartAttempts' },
      },
    },
    restarting: {
      initial: 'backoff',
      on: { 'child.stop': stopTransitions },
      states: {
        terminating: terminating('backoff'),
        backoff: {
          after: { restartDelay: '#childProcess.starting' },
        },
      },
    },
    failed: {
      initial: 'idle',
      on: { 'child.stop': stopTransitions },
      states: {
        terminating: terminating('idle'),
        idle: {
          on: { 'child.start': { target: '#childProcess.starting', actions: 'resetBudget' } },
        },
      },
    },
    stopping: terminating('#childProcess.stopped'),
    stopped: {
      on: { 'child.start': { target: 'starting', actions: 'resetBudget' } },
    },
  },
});

export type ChildProcessMachine = typeof childProcessMachine;

/** The public summary that goes into every transition record of a child. */
export function summarizeChildProcess(context: ChildProcessContext) {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const check = context.lastHealthCheck;
  return {
    name: context.child.name,
    mode: context.child.external ? ('external' as const) : ('spawn' as const),
    url: context.child.url,
    health_url: context.child.healthUrl,
    pid: context.pid,
    run: context.run,
    ready_since: iso(context.readySince),
    restart_attempts: context.restartAttempts,
    restart_budget: {
      max: context.timing.maxRestartAttempts,
      window_ms: context.timing.restartWindowMs,
      /** The restarts that counted against the budget when the last one was decided (readers count those still in the window). */
      restarts_at: context.restartHistory.map((at) => iso(at)!),
    },
    restart_delay_ms: context.restartDelayMs,
    last_health_check: check
      ? { at: iso(check.at)!, ok: check.ok, attempt: check.attempt, reason: check.reason, duration_ms: check.durationMs, ...(check.status !== undefined ? { status: check.status } : {}) }
      : null,
    last_exit: context.lastExit ? { code: context.lastExit.code, signal: context.lastExit.signal, at: iso(context.lastExit.at)! } : null,
    last_error: context.error,
  };
}

export type ChildProcessSummary = ReturnType<typeof summarizeChildProcess>;
