import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNatsServerBinary, freePort, freePorts } from '../../infra/nats/index.ts';
import type { ChildService } from '../../services/cli/services/childServices.ts';
import {
  FLASK_APP,
  holdPort,
  isAlive,
  startChildTestSystem,
  SYSTEM_PYTHON,
  untilState,
  waitUntilGone,
  type ChildTestSystem,
} from '../support/childHarness.ts';
import { getJson } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

let sys: ChildTestSystem;
beforeAll(async () => {
  sys = await startChildTestSystem();
});
afterAll(async () => {
  await sys?.stop();
});

const errorOf = (service: ChildService) => service.supervisor.hosted.actor.getSnapshot().context.error;
const runOf = (service: ChildService) => service.supervisor.summary().run;

/** The child's status as the hub serves it (from the `children` projection). */
async function statusOf(name: string, accept: (s: any) => boolean = () => true): Promise<any> {
  return waitFor(async () => {
    const res = await getJson(sys, `/api/children/${name}`);
    return res.status === 200 && accept(res.body) ? res.body : undefined;
  }, 10_000, `status of ${name}`);
}

describe('child supervisor with real processes: pre-flight', () => {
  it('python not found: failed PYTHON_NOT_FOUND at once, nothing spawned, the steps shown by the status API', async () => {
    const [child] = await sys.supervise({ name: 'no-python', script: 'crash_on_start.py', interpreter: '/nonexistent/bin/python3', port: await freePort() });
    await untilState(child!, 'failed.idle');
    expect(errorOf(child!)).toMatchObject({ code: 'PYTHON_NOT_FOUND', retryable: false });
    expect(runOf(child!)).toBe(0);
    const status = await statusOf('no-python', (s) => s.state === 'failed.idle');
    expect(status).toMatchObject({ ready: false, restarting: false, restart_attempts: 0, uptime_ms: null, pid: null });
    expect(Object.keys(status.last_error).sort()).toEqual(['code', 'message', 'troubleshooting']);
    expect(status.last_error.code).toBe('PYTHON_NOT_FOUND');
    expect(status.last_error.troubleshooting[0]).toContain('sudo apt-get install -y python3 python3-flask python3-flask-cors');
    const failed = sys.childRecordsOf('no-python').at(-1)!;
    expect(failed).toMatchObject({ kind: 'child', from: 'starting.validating', to: 'failed.idle', error: { code: 'PYTHON_NOT_FOUND' } });
  });

  it('a required module that is missing: DEPENDENCY_ERROR naming it, before anything is spawned', async () => {
    const [child] = await sys.supervise({ name: 'requires-missing', script: 'crash_on_start.py', interpreter: SYSTEM_PYTHON, requires: ['json', 'lifeline_no_such_module'], port: await freePort() });
    await untilState(child!, 'failed.idle');
    expect(errorOf(child!)).toMatchObject({ code: 'DEPENDENCY_ERROR', details: { module: 'lifeline_no_such_module', interpreter: SYSTEM_PYTHON } });
    expect(errorOf(child!)!.message).toContain("cannot import module 'lifeline_no_such_module'");
    expect(runOf(child!)).toBe(0);
  });

  it('port in use (a real listener holds it): validated 3 times, then failed PORT_IN_USE, nothing spawned', async () => {
    const held = await holdPort();
    try {
      const [child] = await sys.supervise({ name: 'port-taken', script: 'ignores_sigterm.py', interpreter: SYSTEM_PYTHON, port: held.port });
      await untilState(child!, 'failed.idle');
      expect(errorOf(child!)).toMatchObject({ code: 'PORT_IN_USE', details: { port: held.port, errno: 'EADDRINUSE' } });
      expect(runOf(child!)).toBe(0);
      await waitFor(() => sys.childRecordsOf('port-taken').at(-1)?.to === 'failed.idle', 5_000, 'failed record');
      expect(sys.childRecordsOf('port-taken').filter((r) => r.to === 'starting.validationWait').length).toBe(2);
      expect(held.server.listening).toBe(true);
    } finally {
      await held.close();
    }
  });
});

describe('child supervisor with real processes: crashes', () => {
  it('a script importing a missing module: DEPENDENCY_ERROR from its stderr, the module named, never restarted', async () => {
    const [child] = await sys.supervise({ name: 'import-fails', script: 'missing_module.py', interpreter: SYSTEM_PYTHON, port: await freePort() });
    await untilState(child!, 'failed.idle');
    const error = errorOf(child!)!;
    expect(error).toMatchObject({ code: 'DEPENDENCY_ERROR', retryable: false, details: { module: 'lifeline_no_such_module', exit_code: 1 } });
    expect((error.details!.stderr as string[]).at(-1)).toBe("ModuleNotFoundError: No module named 'lifeline_no_such_module'");
    expect(runOf(child!)).toBe(1);
  });

  it('crash during start-up: restarted with backoff until the budget (MaxR 2) is exhausted, then failed, and no more restarts', async () => {
    const [child] = await sys.supervise({ name: 'crash-start', script: 'crash_on_start.py', interpreter: SYSTEM_PYTHON, port: await freePort(), maxRestartAttempts: 2 });
    await untilState(child!, 'failed.idle', 20_000);
    const error = errorOf(child!)!;
    expect(error).toMatchObject({ code: 'RESTART_BUDGET_EXHAUSTED', severity: 'critical', details: { cause: 'PROCESS_CRASH', max_restarts: 2 } });
    const last = error.details!.last_error as { message: string; details: { stderr: string[]; exit_code: number } };
    expect(last.message).toBe('crash-start exited with code 1 during start-up');
    expect(last.details.exit_code).toBe(1);
    expect(last.details.stderr.at(-1)).toBe('RuntimeError: boom: simulated start-up crash');
    expect(runOf(child!)).toBe(3);
    await waitFor(() => sys.childRecordsOf('crash-start').filter((r) => r.to === 'restarting.backoff').length === 2, 5_000, 'two restarts recorded');
    expect(sys.childRecordsOf('crash-start').filter((r) => r.to === 'restarting.backoff').map((r) => r.context.restart_delay_ms)).toEqual([100, 200]);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(runOf(child!)).toBe(3);
    expect(child!.supervisor.state()).toBe('failed.idle');
  });

  it('the real Flask app: crash after ready (SIGKILL) → restarted → ready again with a new pid', async () => {
    const [child] = await sys.supervise({ name: 'flask', script: FLASK_APP, requires: ['flask', 'flask_cors'], port: await freePort() });
    await untilState(child!, 'ready', 20_000);
    const first = child!.supervisor.summary().pid!;
    expect(isAlive(first)).toBe(true);
    // interpreter "auto" found Debian's python3, which has python3-flask
    expect(child!.supervisor.hosted.actor.getSnapshot().context.command?.command).toBe(SYSTEM_PYTHON);
    const health = await fetch(`${child!.supervisor.child.description.url}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', pid: first });
    process.kill(first, 'SIGKILL');
    await untilState(child!, 'restarting');
    expect(errorOf(child!)).toMatchObject({ code: 'PROCESS_CRASH', details: { signal: 'SIGKILL' } });
    expect(errorOf(child!)!.message).toBe('flask was killed by SIGKILL after it was ready');
    await untilState(child!, 'ready', 20_000);
    const second = child!.supervisor.summary().pid!;
    expect(second).not.toBe(first);
    expect(isAlive(second)).toBe(true);
    const status = await statusOf('flask', (s) => s.ready && s.pid === second);
    expect(status).toMatchObject({ restart_attempts: 1, restarting: false, restart_budget: { max: 3, window_ms: 60_000, used: 1 }, last_error: { code: 'PROCESS_CRASH' } });
    expect(status.uptime_ms).toBeGreaterThanOrEqual(0);
    const paths = sys.childRecordsOf('flask').map((r) => r.to);
    const crashAt = paths.lastIndexOf('restarting.backoff');
    expect(paths.slice(crashAt - 1)).toEqual([
      'ready',
      'restarting.backoff',
      'starting.validating',
      'starting.spawning',
      ...paths.slice(crashAt + 3, -1),
      'ready',
    ]);
    expect(paths.slice(crashAt + 3, -1).every((p) => p.startsWith('starting.healthChecking'))).toBe(true);
  });

  it('health check timeout (a child that accepts but never answers): HEALTH_CHECK_TIMEOUT, and the process is terminated', async () => {
    const [child] = await sys.supervise({
      name: 'mute',
      script: 'never_answers.py',
      interpreter: SYSTEM_PYTHON,
      port: await freePort(),
      healthCheckTimeout: 1_500,
      healthCheckRequestTimeout: 300,
      autoRestart: false,
    });
    await untilState(child!, 'starting.healthChecking');
    const pid = child!.supervisor.summary().pid!;
    expect(isAlive(pid)).toBe(true);
    await untilState(child!, 'failed.idle');
    expect(errorOf(child!)).toMatchObject({ code: 'HEALTH_CHECK_TIMEOUT', retryable: true });
    expect(errorOf(child!)!.message).toMatch(/within 1500 ms \(last check: timeout after 300 ms\)/);
    expect(child!.supervisor.summary().last_exit).toMatchObject({ signal: 'SIGTERM' });
    await waitUntilGone(pid);
    await waitFor(() => sys.childRecordsOf('mute').at(-1)?.to === 'failed.idle', 5_000, 'failed record');
    expect(sys.childRecordsOf('mute').map((r) => r.to).slice(-2)).toEqual(['failed.terminating', 'failed.idle']);
  });
});

describe('child supervisor with real processes: any command', () => {
  it('supervises a non-Python child (a nats-server: command + args + health URL) and stops it', async () => {
    const [port, monitor] = (await freePorts(2)) as [number, number];
    const [nats] = await sys.supervise({
      name: 'nats-child',
      command: findNatsServerBinary(),
      args: ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitor)],
      port,
      healthUrl: `http://127.0.0.1:${monitor}/healthz`,
    });
    await untilState(nats!, 'ready');
    const pid = nats!.supervisor.summary().pid!;
    expect(isAlive(pid)).toBe(true);
    await nats!.stop();
    expect(isAlive(pid)).toBe(false);
    expect(nats!.supervisor.state()).toBe('stopped');
  });

  it('a command that does not exist: COMMAND_NOT_FOUND, never spawned', async () => {
    const [missing] = await sys.supervise({ name: 'no-command', command: 'lifeline-no-such-command', port: await freePort() });
    await untilState(missing!, 'failed.idle');
    expect(errorOf(missing!)).toMatchObject({ code: 'COMMAND_NOT_FOUND', retryable: false });
    expect(runOf(missing!)).toBe(0);
  });
});

describe('child supervisor with real processes: graceful shutdown', () => {
  it('stopping leaves no process behind: SIGTERM, and SIGKILL after shutdownTimeout for a child that ignores SIGTERM', async () => {
    const [flask, stubborn] = await sys.supervise(
      { name: 'flask-stop', script: FLASK_APP, requires: ['flask', 'flask_cors'], port: await freePort() },
      { name: 'stubborn', script: 'ignores_sigterm.py', interpreter: SYSTEM_PYTHON, port: await freePort(), shutdownTimeout: 800 },
    );
    await Promise.all([untilState(flask!, 'ready', 20_000), untilState(stubborn!, 'ready', 20_000)]);
    const pids = [flask!.supervisor.summary().pid!, stubborn!.supervisor.summary().pid!];
    expect(pids.every(isAlive)).toBe(true);
    const started = Date.now();
    await Promise.all([flask!.stop(), stubborn!.stop()]);
    const took = Date.now() - started;
    for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    expect(flask!.supervisor.summary().last_exit).toMatchObject({ signal: 'SIGTERM' });
    expect(stubborn!.supervisor.summary().last_exit).toMatchObject({ signal: 'SIGKILL' });
    expect(took).toBeGreaterThanOrEqual(800);
    await waitFor(() => sys.childRecordsOf('stubborn').at(-1)?.to === 'stopped' && sys.childRecordsOf('flask-stop').at(-1)?.to === 'stopped', 5_000, 'stopped records');
    expect(sys.childRecordsOf('stubborn').map((r) => r.to).slice(-2)).toEqual(['stopping', 'stopped']);
  });
});
