import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromPromise, SimulatedClock, type SnapshotFrom } from 'xstate';
import {
  childProcessMachine,
  DEFAULT_CHILD_TIMING,
  summarizeChildProcess,
  type ChildDescription,
  type ChildProcessEvent,
  type ChildTiming,
  type HealthProbeInput,
  type HealthResult,
  type PreflightResult,
} from '../../machines/childProcess.ts';
import { transitionRecordSchema, type TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { hostActor } from '../../services/runtime/host.ts';
import { statePath } from '../../services/runtime/statePath.ts';

// ---------------------------------------------------------------------------------------
// Harness: the machine hosted as in production (records included), its I/O replaced by
// scripted answers, time driven by a SimulatedClock.
// ---------------------------------------------------------------------------------------

const FLASK: ChildDescription = {
  name: 'flask',
  external: false,
  command: 'python3',
  args: ['app.py'],
  cwd: '/srv/flask',
  script: 'app.py',
  python: true,
  requires: ['flask', 'flask_cors'],
  host: '127.0.0.1',
  port: 5001,
  url: 'http://127.0.0.1:5001',
  healthUrl: 'http://127.0.0.1:5001/health',
};

const OK: HealthResult = { ok: true, reason: 'HTTP 200', status: 200, durationMs: 3 };
const REFUSED: HealthResult = { ok: false, reason: 'connection refused', durationMs: 1 };

interface HarnessOptions {
  child?: Partial<ChildDescription>;
  timing?: Partial<ChildTiming>;
  autoRestart?: boolean;
  /** Pre-flight answers in order; the last one repeats. Default: ok. */
  preflight?: PreflightResult[];
  /** Health answer per probe; default: healthy. */
  probe?: (input: HealthProbeInput, at: number) => HealthResult;
  /** How the fake process answers SIGTERM (SIGKILL always ends it). */
  onSigterm?: 'exit' | 'ignore';
  /** Answer spawnProcess with process.spawnFailed. */
  spawnFails?: boolean;
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function child(options: HarnessOptions = {}) {
  const clock = new SimulatedClock();
  const spawns: Array<{ run: number; command: string; args: string[]; at: number }> = [];
  const signals: Array<{ run: number; signal: string; at: number }> = [];
  const probes: Array<HealthProbeInput & { at: number }> = [];
  const preflights: number[] = [];
  const answers = [...(options.preflight ?? [{ ok: true, command: '/usr/bin/python3', args: ['app.py'] }])];
  const records: TransitionRecord[] = [];
  let pidSeq = 1000;
  const later = (event: ChildProcessEvent): void => queueMicrotask(() => hosted.send(event));

  const machine = childProcessMachine.provide({
    actors: {
      preflight: fromPromise<PreflightResult, { attempt: number }>(async () => {
        preflights.push(clock.now());
        return answers.length > 1 ? answers.shift()! : answers[0]!;
      }),
      probeHealth: fromPromise<HealthResult, HealthProbeInput>(async ({ input }) => {
        probes.push({ ...input, at: clock.now() });
        return (options.probe ?? (() => OK))(input, clock.now());
      }),
    },
    actions: {
      spawnProcess: (_, params) => {
        spawns.push({ ...params, at: clock.now() });
        if (options.spawnFails) later({ type: 'process.spawnFailed', run: params.run, message: 'spawn EACCES' });
        else later({ type: 'process.spawned', run: params.run, pid: ++pidSeq });
      },
      signalProcess: (_, params) => {
        signals.push({ ...params, at: clock.now() });
        if (params.signal === 'SIGKILL' || options.onSigterm !== 'ignore') {
          later({ type: 'process.exited', run: params.run, code: null, signal: params.signal, stderr: [] });
        }
      },
    },
  });

  const hosted = hostActor({
    machine,
    kind: 'child',
    id: (options.child?.name ?? FLASK.name),
    input: {
      child: { ...FLASK, ...options.child },
      ...(options.autoRestart !== undefined ? { autoRestart: options.autoRestart } : {}),
      timing: { restartJitter: 0, ...options.timing },
      now: () => clock.now(),
      random: () => 0.5,
    },
    sink: { enqueue: (r) => void records.push(r) },
    summarize: (s: SnapshotFrom<typeof machine>) => summarizeChildProcess(s.context),
    errorOf: (s: SnapshotFrom<typeof machine>) => s.context.error ?? undefined,
    now: () => clock.now(),
    clock,
  });

  const h = {
    clock,
    hosted,
    spawns,
    signals,
    probes,
    preflights,
    records,
    ctx: () => hosted.actor.getSnapshot().context,
    state: (): string => statePath(hosted.actor.getSnapshot().value),
    summary: () => summarizeChildProcess(hosted.actor.getSnapshot().context),
    send: async (event: ChildProcessEvent): Promise<void> => {
      hosted.send(event);
      await flush();
      await flush();
    },
    /** The current process dies on its own. */
    crash: async (exit: { code?: number | null; signal?: string | null; stderr?: string[] } = {}): Promise<void> =>
      h.send({ type: 'process.exited', run: h.ctx().run, code: exit.code ?? null, signal: exit.signal ?? (exit.code === undefined ? 'SIGKILL' : null), stderr: exit.stderr ?? [] }),
    /** Advances simulated time in `step` ms steps, letting promises settle after each. */
    advance: async (ms: number, step = 10): Promise<void> => {
      await flush();
      for (let left = ms; left > 0; ) {
        const d = Math.min(step, left);
        clock.increment(d);
        left -= d;
        await flush();
        await flush();
      }
    },
    /** Advances until the state path starts with `prefix` (at most `limitMs`). */
    until: async (prefix: string, limitMs = 120_000, step = 10): Promise<number> => {
      await flush();
      const start = clock.now();
      while (!h.state().startsWith(prefix)) {
        if (clock.now() - start > limitMs) throw new Error(`still ${h.state()} after ${limitMs} ms, waiting for ${prefix}`);
        await h.advance(step, step);
      }
      return clock.now() - start;
    },
    paths: (): string[] => records.map((r) => r.to),
  };
  return h;
}

// ---------------------------------------------------------------------------------------

describe('childProcessMachine: a start that works', () => {
  it('validates, spawns what the pre-flight resolved, health checks after 500 ms and is ready', async () => {
    const h = child();
    await h.until('ready');
    expect(h.preflights).toEqual([0]);
    expect(h.spawns).toEqual([{ run: 1, command: '/usr/bin/python3', args: ['app.py'], at: 0 }]);
    expect(h.probes.map((p) => [p.at, p.attempt, p.phase, p.url])).toEqual([[500, 1, 'startup', FLASK.healthUrl]]);
    expect(h.paths()).toEqual([
      'starting.validating',
      'starting.spawning',
      'starting.healthChecking.waiting',
      'starting.healthChecking.probing',
      'ready',
    ]);
    const s = h.summary();
    expect(s).toMatchObject({ name: 'flask', mode: 'spawn', pid: 1001, run: 1, restart_attempts: 0, last_error: null, ready_since: new Date(500).toISOString() });
    expect(s.last_health_check).toMatchObject({ ok: true, attempt: 1, reason: 'HTTP 200', status: 200 });
    for (const r of h.records) expect(transitionRecordSchema.parse(r)).toEqual(r);
    expect(h.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('spaces health checks 500 ms, ×1.2 each, at most 2 s apart, logging each failed attempt', async () => {
    let healthyFrom = Infinity;
    const h = child({ probe: (_, at) => (at >= healthyFrom ? OK : REFUSED), timing: { healthCheckTimeoutMs: 60_000 } });
    await h.advance(20_000, 1);
    const times = h.probes.map((p) => p.at);
    const gaps = times.map((t, i) => t - (i === 0 ? 0 : times[i - 1]!));
    expect(gaps.slice(0, 10)).toEqual([500, 600, 720, 864, 1037, 1244, 1493, 1792, 2000, 2000]);
    expect(h.state()).toBe('starting.healthChecking.waiting');
    expect(h.summary().last_health_check).toMatchObject({ ok: false, reason: 'connection refused', attempt: times.length });
    healthyFrom = h.clock.now();
    await h.until('ready');
  });

  it('keeps the liveness check quiet while the child answers: no records from a healthy child', async () => {
    const h = child({ timing: { livenessIntervalMs: 1_000 } });
    await h.until('ready');
    const before = h.records.length;
    await h.advance(10_000, 50);
    expect(h.probes.filter((p) => p.phase === 'liveness').length).toBe(10);
    expect(h.records.length).toBe(before);
  });
});

describe('childProcessMachine: pre-flight', () => {
  it('a missing interpreter fails at once: no spawn, no retry, troubleshooting in the error', async () => {
    const h = child({ preflight: [{ ok: false, code: 'PYTHON_NOT_FOUND', message: 'no python3 at /nope/python3' }] });
    await h.until('failed');
    await h.advance(10_000, 100);
    expect(h.state()).toBe('failed.idle');
    expect(h.preflights).toEqual([0]);
    expect(h.spawns).toEqual([]);
    const error = h.ctx().error!;
    expect(error).toMatchObject({ code: 'PYTHON_NOT_FOUND', retryable: false, component: 'child-process' });
    expect((error.details!.troubleshooting as string[])[0]).toContain('apt-get install -y python3 python3-flask python3-flask-cors');
    expect(h.records.at(-1)).toMatchObject({ from: 'starting.validating', to: 'failed.idle', error: { code: 'PYTHON_NOT_FOUND' } });
  });

  it('a port in use is validated again twice, 1 s apart, then fails PORT_IN_USE (not a restart loop)', async () => {
    const busy: PreflightResult = { ok: false, code: 'PORT_IN_USE', message: 'port 5001 is in use' };
    const h = child({ preflight: [busy] });
    await h.until('failed');
    expect(h.preflights).toEqual([0, 1_000, 2_000]);
    expect(h.spawns).toEqual([]);
    expect(h.ctx().error).toMatchObject({ code: 'PORT_IN_USE', retryable: true });
    expect(h.paths()).toEqual([
      'starting.validating',
      'starting.validationWait',
      'starting.validating',
      'starting.validationWait',
      'starting.validating',
      'failed.idle',
    ]);
  });

  it('goes on when the port is freed between validations', async () => {
    const busy: PreflightResult = { ok: false, code: 'PORT_IN_USE', message: 'port 5001 is in use' };
    const h = child({ preflight: [busy, { ok: true, command: 'python3', args: ['app.py'] }] });
    await h.until('ready');
    expect(h.preflights).toEqual([0, 1_000]);
  });

  it('an external child is neither validated nor spawned, only health checked', async () => {
    const h = child({ child: { external: true, url: 'http://10.0.0.9:8080', healthUrl: 'http://10.0.0.9:8080/health' } });
    await h.until('ready');
    expect(h.preflights).toEqual([]);
    expect(h.spawns).toEqual([]);
    expect(h.summary()).toMatchObject({ mode: 'external', pid: null, url: 'http://10.0.0.9:8080' });
  });
});

describe('childProcessMachine: crashes and the restart budget (MaxR in MaxT)', () => {
  it('crash after ready → restarting after restartDelay → ready again; the delay doubles per consecutive restart', async () => {
    const h = child({ timing: { stablePeriodMs: 100_000 } });
    await h.until('ready');
    await h.crash({ signal: 'SIGKILL' });
    expect(h.state()).toBe('restarting.backoff');
    expect(h.ctx().error).toMatchObject({ code: 'PROCESS_CRASH', retryable: true });
    expect(h.ctx().error!.message).toBe('flask was killed by SIGKILL after it was ready');
    // the steps name what the pre-flight resolved, not the configured `python3`
    expect((h.ctx().error!.details!.troubleshooting as string[])[0]).toBe('run it by hand to see its output: cd /srv/flask && /usr/bin/python3 app.py');
    expect(h.summary()).toMatchObject({ restart_attempts: 1, restart_delay_ms: 2_000, pid: null, last_exit: { signal: 'SIGKILL' } });
    const first = await h.until('starting');
    expect(first).toBe(2_000);
    await h.until('ready');
    expect(h.spawns.map((s) => s.run)).toEqual([1, 2]);
    await h.crash({ code: 1 });
    expect(h.summary()).toMatchObject({ restart_attempts: 2, restart_delay_ms: 4_000 });
    expect(await h.until('starting')).toBe(4_000);
  });

  it('a stable period of ready resets the backoff', async () => {
    const h = child({ timing: { stablePeriodMs: 5_000, restartWindowMs: 1_000 } });
    await h.until('ready');
    await h.crash();
    await h.until('ready');
    expect(h.summary().restart_attempts).toBe(1);
    await h.advance(5_000, 100);
    expect(h.summary().restart_attempts).toBe(0);
    expect(h.records.at(-1)).toMatchObject({ from: 'ready', to: 'ready', event: 'timer.stable' });
    await h.crash();
    expect(h.summary().restart_delay_ms).toBe(2_000);
  });

  it('the 4th crash within 60 s escalates to failed RESTART_BUDGET_EXHAUSTED, naming the cause; nothing restarts after', async () => {
    const h = child({ timing: { restartDelayMs: 100, maxRestartAttempts: 3, restartWindowMs: 60_000 } });
    for (let i = 0; i < 3; i++) {
      await h.until('ready');
      await h.crash({ code: 3, stderr: ['Traceback (most recent call last):', 'RuntimeError: boom'] });
      expect(h.state()).toBe('restarting.backoff');
    }
    await h.until('ready');
    expect(h.summary().restart_budget.restarts_at.length).toBe(3);
    await h.crash({ code: 3, stderr: ['RuntimeError: boom'] });
    expect(h.state()).toBe('failed.idle');
    const error = h.ctx().error!;
    expect(error).toMatchObject({ code: 'RESTART_BUDGET_EXHAUSTED', severity: 'critical' });
    expect(error.message).toBe('flask gave up: its restart budget (3 in 60000 ms) is exhausted; last failure: PROCESS_CRASH: flask exited with code 3 after it was ready');
    expect(error.details).toMatchObject({ cause: 'PROCESS_CRASH', max_restarts: 3, window_ms: 60_000 });
    expect((error.details!.troubleshooting as string[]).at(-1)).toContain('/api/children/flask/start');
    const spawned = h.spawns.length;
    await h.advance(120_000, 1_000);
    expect(h.spawns.length).toBe(spawned);
    expect(h.state()).toBe('failed.idle');
    // asked to start again: a fresh budget
    await h.send({ type: 'child.start' });
    await h.until('ready');
    expect(h.summary()).toMatchObject({ restart_attempts: 0, restart_budget: { max: 3, window_ms: 60_000, restarts_at: [] } });
  });

  it('crashes further apart than the window never exhaust the budget', async () => {
    const h = child({ timing: { restartDelayMs: 100, maxRestartAttempts: 1, restartWindowMs: 5_000, stablePeriodMs: 1_000 } });
    for (let i = 0; i < 4; i++) {
      await h.until('ready');
      await h.advance(5_000, 100);
      await h.crash();
      expect(h.state()).toBe('restarting.backoff');
    }
  });

  it('property: never more than MaxR restarts inside any MaxT window, and failed only when one more was needed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 3 }), async (gaps, maxR) => {
        const windowMs = 4_000;
        const h = child({ timing: { restartDelayMs: 100, restartMaxDelayMs: 100, maxRestartAttempts: maxR, restartWindowMs: windowMs, stablePeriodMs: 1e9 } });
        const restarts: number[] = [];
        for (const gap of gaps) {
          await h.until('ready');
          await h.advance(gap, 50);
          await h.crash();
          if (h.state() !== 'restarting.backoff') break;
          restarts.push(h.clock.now());
        }
        for (const t of restarts) expect(restarts.filter((u) => u > t - windowMs && u <= t).length).toBeLessThanOrEqual(maxR);
        if (h.state().startsWith('failed')) {
          const now = h.clock.now();
          expect(restarts.filter((u) => u > now - windowMs).length).toBe(maxR);
          expect(h.ctx().error!.code).toBe('RESTART_BUDGET_EXHAUSTED');
        }
      }),
      { numRuns: 25 },
    );
  });

  it('a missing module in stderr is DEPENDENCY_ERROR: failed at once, module named, no restart', async () => {
    const h = child();
    await h.until('starting.healthChecking');
    await h.crash({ code: 1, stderr: ['Traceback (most recent call last):', '  File "app.py", line 1', "ModuleNotFoundError: No module named 'flask_cors'"] });
    expect(h.state()).toBe('failed.idle');
    expect(h.ctx().error).toMatchObject({ code: 'DEPENDENCY_ERROR', retryable: false, details: { module: 'flask_cors', exit_code: 1 } });
    expect((h.ctx().error!.details!.troubleshooting as string[]).join('\n')).toContain('python3-flask-cors');
    expect((h.ctx().error!.details!.stderr as string[]).at(-1)).toContain('flask_cors');
  });

  it('"address already in use" in stderr is PORT_IN_USE, which is restarted (the next pre-flight may find the port free)', async () => {
    const h = child();
    await h.until('starting.healthChecking');
    await h.crash({ code: 1, stderr: ['OSError: [Errno 98] Address already in use'] });
    expect(h.state()).toBe('restarting.backoff');
    expect(h.ctx().error!.code).toBe('PORT_IN_USE');
  });

  it('autoRestart false: a crash is final, with its own code', async () => {
    const h = child({ autoRestart: false });
    await h.until('ready');
    await h.crash({ code: 2 });
    expect(h.state()).toBe('failed.idle');
    expect(h.ctx().error!.code).toBe('PROCESS_CRASH');
  });

  it('a spawn that fails is PROCESS_SPAWN_ERROR and is restarted', async () => {
    const h = child({ spawnFails: true, timing: { maxRestartAttempts: 1 } });
    await h.until('restarting');
    expect(h.ctx().error!.code).toBe('PROCESS_SPAWN_ERROR');
    await h.until('failed');
    expect(h.ctx().error).toMatchObject({ code: 'RESTART_BUDGET_EXHAUSTED', details: { cause: 'PROCESS_SPAWN_ERROR' } });
  });

  it('an exit of an earlier run is ignored', async () => {
    const h = child();
    await h.until('ready');
    await h.send({ type: 'process.exited', run: 0, code: 1, signal: null, stderr: [] });
    expect(h.state()).toBe('ready');
    expect(h.ctx().pid).toBe(1001);
  });
});

describe('childProcessMachine: health', () => {
  it('no healthy answer within 20 attempts: HEALTH_CHECK_TIMEOUT, the process is terminated, then restarted', async () => {
    const h = child({ probe: () => ({ ok: false, reason: 'timeout after 2000 ms', durationMs: 2_000 }), timing: { healthCheckTimeoutMs: 1e9 } });
    await h.until('restarting', 200_000, 50);
    expect(h.probes.length).toBe(20);
    expect(h.ctx().error).toMatchObject({ code: 'HEALTH_CHECK_TIMEOUT', details: { attempts: 20 } });
    expect(h.ctx().error!.message).toContain('after 20 checks (last: timeout after 2000 ms)');
    expect(h.signals.map((s) => s.signal)).toEqual(['SIGTERM']);
    expect(h.paths().slice(-2)).toEqual(['restarting.terminating', 'restarting.backoff']);
  });

  it('the total health timeout ends the start even with attempts left', async () => {
    const h = child({ probe: () => REFUSED, timing: { healthCheckTimeoutMs: 3_000 } });
    const took = await h.until('restarting');
    expect(took).toBe(3_000);
    expect(h.ctx().error).toMatchObject({ code: 'HEALTH_CHECK_TIMEOUT' });
    expect(h.ctx().error!.message).toContain('within 3000 ms (last check: connection refused)');
  });

  it('while ready, livenessFailures failed checks in a row are HEALTH_CHECK_FAILED → restart; one success resets the count', async () => {
    let failing = false;
    const h = child({ probe: () => (failing ? { ok: false, reason: 'HTTP 500', status: 500, durationMs: 2 } : OK), timing: { livenessIntervalMs: 1_000, livenessFailures: 3 } });
    await h.until('ready');
    failing = true;
    await h.advance(2_000, 50);
    expect(h.state()).toBe('ready');
    expect(h.summary().last_health_check).toMatchObject({ ok: false, reason: 'HTTP 500', attempt: 2 });
    failing = false;
    await h.advance(1_000, 50);
    expect(h.summary().last_health_check).toMatchObject({ ok: true });
    failing = true;
    await h.advance(3_000, 50);
    expect(h.state()).toBe('restarting.backoff');
    expect(h.ctx().error).toMatchObject({ code: 'HEALTH_CHECK_FAILED' });
    expect(h.signals.map((s) => s.signal)).toEqual(['SIGTERM']);
  });

  it('an external service that goes away is re-checked with backoff for ever, never failed', async () => {
    let up = true;
    const h = child({
      child: { external: true },
      probe: () => (up ? OK : REFUSED),
      timing: { livenessIntervalMs: 1_000, livenessFailures: 1, healthCheckTimeoutMs: 2_000, maxRestartAttempts: 1, restartDelayMs: 100, restartMaxDelayMs: 400 },
    });
    await h.until('ready');
    up = false;
    await h.advance(30_000, 50);
    expect(h.state()).not.toMatch(/^failed/);
    expect(h.signals).toEqual([]);
    up = true;
    await h.until('ready');
  });
});

describe('childProcessMachine: stopping', () => {
  it('stop while ready: SIGTERM, and SIGKILL after shutdownTimeout when the process ignores it', async () => {
    const h = child({ onSigterm: 'ignore', timing: { shutdownTimeoutMs: 5_000 } });
    await h.until('ready');
    const t0 = h.clock.now();
    await h.send({ type: 'child.stop' });
    expect(h.state()).toBe('stopping');
    await h.until('stopped');
    expect(h.signals.map((s) => [s.signal, s.at - t0])).toEqual([
      ['SIGTERM', 0],
      ['SIGKILL', 5_000],
    ]);
    expect(h.summary()).toMatchObject({ pid: null, last_exit: { signal: 'SIGKILL' } });
  });

  it('stop while waiting to restart: stopped at once, nothing spawned later; start again works', async () => {
    const h = child();
    await h.until('ready');
    await h.crash();
    await h.send({ type: 'child.stop' });
    expect(h.state()).toBe('stopped');
    await h.advance(10_000, 100);
    expect(h.spawns.length).toBe(1);
    await h.send({ type: 'child.start' });
    await h.until('ready');
    expect(h.spawns.length).toBe(2);
  });

  it('stop during start-up terminates the process being health checked', async () => {
    const h = child({ probe: () => REFUSED });
    await h.until('starting.healthChecking');
    await h.send({ type: 'child.stop' });
    await h.until('stopped');
    expect(h.signals.map((s) => s.signal)).toEqual(['SIGTERM']);
  });

  it('exposes its defaults', () => {
    expect(DEFAULT_CHILD_TIMING).toMatchObject({
      validationRetries: 2,
      validationRetryDelayMs: 1_000,
      healthCheckIntervalMs: 500,
      healthCheckBackoff: 1.2,
      healthCheckMaxIntervalMs: 2_000,
      healthCheckMaxRetries: 20,
      restartDelayMs: 2_000,
      maxRestartAttempts: 3,
      restartWindowMs: 60_000,
      shutdownTimeoutMs: 5_000,
    });
  });
});
