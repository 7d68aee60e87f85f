import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts, startNatsServer, type NatsServerHandle } from '../../infra/nats/index.ts';
import { withParentDeath } from '../../services/child-supervisor/parentDeath.ts';
import { FLASK_APP, isAlive, waitUntilGone } from '../support/childHarness.ts';
import { spawnLifeline, type LifelineProcess } from '../support/lifelineProcess.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * `lifeline up` with a configuration file that declares the Flask child, as a real
 * process: the child must not outlive it, however it ends.
 */
let dataDir: string;
let nats: NatsServerHandle;
const running: LifelineProcess[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'lifeline-child-death-'));
  nats = await startNatsServer({ dataDir });
});
afterAll(async () => {
  await Promise.all(running.map((p) => p.kill('SIGKILL')));
  await nats?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function upWithFlask(): Promise<{ lifeline: LifelineProcess; pid: number; hub: string }> {
  const [httpPort, devicePort, flaskPort] = (await freePorts(3)) as [number, number, number];
  const config = join(dataDir, `lifeline-${flaskPort}.config.json`);
  writeFileSync(
    config,
    JSON.stringify({
      children: [{ name: 'flask', script: FLASK_APP, requires: ['flask', 'flask_cors'], port: flaskPort, healthCheckInterval: 100, livenessInterval: 0 }],
    }),
  );
  const lifeline = spawnLifeline(['up', '--nats-url', nats.url, '--data-dir', dataDir, '--config', config, '--http-port', String(httpPort), '--device-port', String(devicePort)]);
  running.push(lifeline);
  await lifeline.waitForOutput('Dashboard/API', 30_000);
  expect(lifeline.output()).toMatch(/child flask\s+starting/);
  const hub = `http://127.0.0.1:${httpPort}`;
  // (the projection may still show the previous run's child, killed with its supervisor)
  const status = await waitFor(async () => {
    const res = await fetch(`${hub}/api/children/flask`);
    const body = (await res.json()) as { ready?: boolean; pid?: number };
    return res.status === 200 && body.ready && isAlive(body.pid!) ? body : undefined;
  }, 20_000, 'flask ready');
  const proxied = await fetch(`${hub}/api/children/flask/proxy/health`);
  expect(await proxied.json()).toMatchObject({ status: 'ok', pid: status.pid });
  return { lifeline, pid: status.pid!, hub };
}

describe('children die with their supervisor', () => {
  it('SIGKILL of `lifeline up`: the Flask child is gone within a second (parent-death signal)', async () => {
    const { lifeline, pid } = await upWithFlask();
    expect(isAlive(pid)).toBe(true);
    await lifeline.kill('SIGKILL');
    await waitUntilGone(pid, 3_000);
  });

  it('SIGTERM of `lifeline up`: graceful stop, the child is stopped first and nothing is left', async () => {
    const { lifeline, pid } = await upWithFlask();
    const code = await lifeline.kill('SIGTERM');
    expect(code).toBe(0);
    expect(lifeline.output()).toContain('stopping child flask');
    expect(isAlive(pid)).toBe(false);
  });

  it('the guard refuses to start a child whose supervisor is already gone', () => {
    const wrapped = withParentDeath('/bin/echo', ['should not run'], 1);
    expect(wrapped.armed).toBe(true);
    const result = spawnSync(wrapped.command, wrapped.args, { encoding: 'utf8' });
    expect(result.status).toBe(70);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('supervisor 1 is gone');
    const ok = withParentDeath('/bin/echo', ['runs'], process.pid);
    expect(spawnSync(ok.command, ok.args, { encoding: 'utf8' }).stdout).toBe('runs\n');
  });
});
