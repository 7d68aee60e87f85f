import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimDevice } from '../../infra/device-sim/index.ts';
import { launchChromium } from '../support/chromium.ts';
import { ensureDashboardBuilt } from '../support/dashboardBuild.ts';
import { startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * The dashboard (Vite build of dashboard/, served by the hub) in headless Debian Chromium:
 * the overview lists the actors; clicking a device shows its statechart with the active
 * state highlighted, and the highlight follows the device through a real command.
 */
const ARTIFACTS = new URL('../artifacts/', import.meta.url);

let sys: TestSystem;
let browser: Browser;
let device: SimDevice;

beforeAll(async () => {
  await ensureDashboardBuilt();
  mkdirSync(ARTIFACTS, { recursive: true });
  sys = await startTestSystem();
  device = await connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, name: 'dash-1', resultDelayMs: 2_500 });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await device?.close();
  await sys?.stop();
});

const active = (page: Page): Promise<string[]> => page.$$eval('#diagram g.node.active', (gs) => gs.map((g) => g.getAttribute('data-path') ?? ''));

describe('dashboard overview and statechart diagrams in Chromium', () => {
  it('lists the actors, draws the selected one, and moves the highlight as it transitions', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${sys.httpUrl}/`);
    const row = 'tr.actor[data-key="device:127.0.0.1:dash-1"]';
    await page.waitForSelector(row, { timeout: 10_000 });
    expect(await page.textContent('[data-kind=device] h2')).toMatch(/device \(1\)/);
    expect(await page.getAttribute(row, 'data-state')).toBe('idle');

    await page.click(row);
    await page.waitForSelector('#diagram svg g.node[data-path="idle"]');
    // every state of the device machine is drawn, with delayed (`after`) edges
    for (const state of ['idle', 'awaitingAck', 'busy', 'failed', 'closed']) expect(await page.$(`#diagram g.node[data-path="${state}"]`)).not.toBeNull();
    expect(await page.$$eval('#diagram path.edge.delayed', (ps) => ps.length)).toBeGreaterThan(0);
    expect(await active(page)).toEqual(['idle']);
    await page.screenshot({ path: new URL('dashboard-idle.png', ARTIFACTS).pathname, fullPage: true });

    const res = await fetch(`${sys.httpUrl}/api/devices/${encodeURIComponent('127.0.0.1:dash-1')}/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ node_id: 'dash-node-1', command: 'configure' }),
    });
    expect(res.status).toBe(202);
    await waitFor(async () => (await active(page)).includes('busy'), 10_000, 'highlight on busy');
    expect(await page.textContent('#detail-state')).toBe('busy');
    await page.screenshot({ path: new URL('dashboard-busy.png', ARTIFACTS).pathname, fullPage: true });
    await waitFor(async () => JSON.stringify(await active(page)) === '["idle"]', 10_000, 'highlight back on idle');
    expect(await page.$$eval('#history li', (lis) => lis.length)).toBeGreaterThanOrEqual(2);

    await device.close();
    await waitFor(async () => (await page.getAttribute(row, 'data-state')) !== 'idle' || (await page.$(row)) === null, 10_000, 'device left idle');
    await page.screenshot({ path: new URL('dashboard-closed.png', ARTIFACTS).pathname, fullPage: true });
    await page.close();
  });

  it('serves every machine definition at /api/machines', async () => {
    const machines = (await (await fetch(`${sys.httpUrl}/api/machines`)).json()) as Array<{ kind: string; root: { states: Record<string, unknown> } }>;
    expect(machines.map((m) => m.kind).sort()).toEqual(['child', 'client', 'device', 'link', 'rpc', 'telemetry']);
    for (const m of machines) expect(Object.keys(m.root.states).length).toBeGreaterThan(1);
  });
});
