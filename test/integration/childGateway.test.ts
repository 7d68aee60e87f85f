import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/nats/index.ts';
import type { ChildService } from '../../services/cli/services/childServices.ts';
import { FLASK_APP, startChildTestSystem, SYSTEM_PYTHON, untilState, type ChildTestSystem } from '../support/childHarness.ts';
import { getJson } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

let sys: ChildTestSystem;
let web: ChildService;
beforeAll(async () => {
  sys = await startChildTestSystem();
  [web] = (await sys.supervise({ name: 'web', script: FLASK_APP, requires: ['flask', 'flask_cors'], port: await freePort(), restartDelay: 1_500, restartMaxDelay: 1_500 })) as [ChildService];
  await untilState(web, 'ready', 20_000);
});
afterAll(async () => {
  await sys?.stop();
});

async function request(path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(`${sys.httpUrl}${path}`, init);
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/** Waits until the hub's projection shows the child in a state starting with `prefix`. */
async function projected(name: string, prefix: string): Promise<any> {
  return waitFor(async () => {
    const res = await getJson(sys, `/api/children/${name}`);
    return res.status === 200 && String(res.body.state).startsWith(prefix) ? res.body : undefined;
  }, 20_000, `${name} projected ${prefix}`);
}

function expectPublicError(body: any, code: string): void {
  expect(Object.keys(body).sort()).toEqual(['error', 'status']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'troubleshooting']);
  expect(body.error.code).toBe(code);
  expect(body.error.troubleshooting.length).toBeGreaterThan(0);
  // internal details (stderr, exit codes in details) stay in the log and the event log
  expect(JSON.stringify(body)).not.toMatch(/"details"|"stderr"|Traceback|RuntimeError/);
}

describe('hub gateway to a supervised child', () => {
  it('proxies to the ready Flask child: method, path, query and body pass through', async () => {
    await projected('web', 'ready');
    const info = await request('/api/children/web/proxy/api/info?x=1&y=two');
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ service: 'flask-app', query: { x: '1', y: 'two' }, pid: web.supervisor.summary().pid });
    const echo = await request('/api/children/web/proxy/api/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hello: 'flask', n: [1, 2] }) });
    expect(echo).toMatchObject({ status: 200, body: { received: { hello: 'flask', n: [1, 2] } } });
    const missing = await request('/api/children/web/proxy/nope');
    expect(missing.status).toBe(404);
    const health = await request('/api/health/web');
    expect(health).toMatchObject({ status: 200, body: { name: 'web', status: 'ready' } });
    const status = await request('/api/children/web');
    expect(status.body).toMatchObject({ name: 'web', state: 'ready', ready: true, restarting: false, restart_attempts: 0, last_error: null, mode: 'spawn' });
    expect(status.body.uptime_ms).toBeGreaterThanOrEqual(0);
    expect(status.body.last_health_check).toMatchObject({ ok: true, reason: 'HTTP 200', status: 200 });
  });

  it('answers 503 with the reason while the child restarts after a crash, and proxies again once it is back', async () => {
    const pid = web.supervisor.summary().pid!;
    process.kill(pid, 'SIGKILL');
    await projected('web', 'restarting');
    const down = await request('/api/children/web/proxy/api/info');
    expect(down.status).toBe(503);
    expectPublicError(down.body, 'PROCESS_CRASH');
    expect(down.body.error.message).toBe('web is restarting.backoff: web was killed by SIGKILL after it was ready');
    expect(down.body.status).toMatchObject({ name: 'web', ready: false, restarting: true, restart_attempts: 1 });
    expect((await request('/api/health/web')).status).toBe(503);
    await projected('web', 'ready');
    const up = await request('/api/children/web/proxy/api/info');
    expect(up.status).toBe(200);
    expect(up.body.pid).not.toBe(pid);
  });

  it('stop and start through the hub (a NATS request to the supervisor); 503 CHILD_STOPPED meanwhile', async () => {
    const stop = await request('/api/children/web/stop', { method: 'POST' });
    expect(stop).toMatchObject({ status: 202, body: { name: 'web', action: 'stop' } });
    await projected('web', 'stopped');
    const down = await request('/api/children/web/proxy/api/info');
    expect(down.status).toBe(503);
    expectPublicError(down.body, 'CHILD_STOPPED');
    const start = await request('/api/children/web/start', { method: 'POST' });
    expect(start).toMatchObject({ status: 202, body: { name: 'web', action: 'start', state: 'starting.validating' } });
    await projected('web', 'ready');
    expect((await request('/api/children/web/proxy/api/info')).status).toBe(200);
    const again = await request('/api/children/web/start', { method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CHILD_NOT_STARTABLE');
  });

  it('a child that gave up: 503 RESTART_BUDGET_EXHAUSTED with its steps; asked to start again, it runs again', async () => {
    const [crashy] = await sys.supervise({ name: 'crashy', script: 'crash_on_start.py', interpreter: SYSTEM_PYTHON, port: await freePort(), maxRestartAttempts: 0 });
    await projected('crashy', 'failed.idle');
    const down = await request('/api/children/crashy/proxy/');
    expect(down.status).toBe(503);
    expectPublicError(down.body, 'RESTART_BUDGET_EXHAUSTED');
    expect(down.body.error.troubleshooting.at(-1)).toContain('/api/children/crashy/start');
    const runs = crashy!.supervisor.summary().run;
    expect((await request('/api/children/crashy/start', { method: 'POST' })).status).toBe(202);
    await waitFor(() => crashy!.supervisor.summary().run > runs, 10_000, 'spawned again');
  });

  it('an external service is health checked and proxied; when it goes away the child restarts checking, and 503 says why', async () => {
    const [ext] = await sys.supervise({ name: 'ext', externalUrl: web.supervisor.child.description.url, livenessInterval: 200, livenessFailures: 1, healthCheckTimeout: 1_000 });
    await projected('ext', 'ready');
    const via = await request('/api/children/ext/proxy/api/info');
    expect(via).toMatchObject({ status: 200, body: { service: 'flask-app' } });
    expect((await request('/api/children/ext')).body).toMatchObject({ mode: 'external', pid: null });
    await web.supervisor.stop();
    const down = await projected('ext', 'restarting');
    expect(down.last_error.code).toBe('HEALTH_CHECK_FAILED');
    const res = await request('/api/children/ext/proxy/api/info');
    expect(res.status).toBe(503);
    expect(ext!.supervisor.summary().run).toBe(0);
    web.supervisor.start();
    await projected('ext', 'ready');
  });

  it('unknown children are 404 CHILD_NOT_FOUND; the list shows every child', async () => {
    expect(await request('/api/children/nobody')).toMatchObject({ status: 404, body: { error: { code: 'CHILD_NOT_FOUND' } } });
    expect((await request('/api/children/nobody/proxy/x')).status).toBe(404);
    expect((await request('/api/health/nobody')).status).toBe(404);
    const list = await request('/api/children');
    expect(list.body.map((c: { name: string }) => c.name)).toEqual(['crashy', 'ext', 'web']);
  });
});
