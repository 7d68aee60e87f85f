import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium.ts';
import { startHubService } from '../../services/cli/services/hubService.ts';
import { sessionEntry, startTestPublisher, type TestPublisher } from '../support/telemetry.ts';
import { startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * The telemetry dashboard in headless Debian Chromium (/usr/bin/chromium, never a
 * downloaded browser): connected; the hub stopped → reconnecting and the stale warning;
 * the hub back on the same port → re-joined, data flowing; two dashboards on one
 * session, one closes, the other misses no sample.
 */
const SESSION = 'browser-race';

let sys: TestSystem;
let pub: TestPublisher;
let browser: Browser;

interface DashboardState {
  state: string;
  attempt: number;
  joins: number;
  joined: boolean;
  latencyMs: number | null;
  received: number[];
}

const stateOf = (page: Page): Promise<DashboardState> => page.evaluate(() => (window as unknown as { lifelineDashboard: DashboardState }).lifelineDashboard);

beforeAll(async () => {
  sys = await startTestSystem({ gateway: false });
  pub = await startTestPublisher(sys, SESSION);
  pub.stream(50); // 20 samples a second
  await waitFor(() => sessionEntry(sys, SESSION, 'telemetry'), 10_000, 'session projected');
  browser = await launchChromium();
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await pub?.close();
  await sys?.stop();
});

async function openDashboard(): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${sys.httpUrl}/dashboard/telemetry?session=${SESSION}&staleMs=1000&backoffInitialMs=200&backoffMaxMs=800&pingMs=500`);
  return page;
}

describe('telemetry dashboard in Chromium', () => {
  it('shows connected, then reconnecting + stale while the hub is down, then re-joins and resumes', async () => {
    const page = await openDashboard();
    await waitFor(async () => (await page.getAttribute('#conn', 'data-state')) === 'connected' && (await stateOf(page)).received.length > 5, 10_000, 'connected with data');
    await waitFor(async () => (await stateOf(page)).latencyMs !== null, 5_000, 'latency measured');
    expect(await page.textContent('#latency')).toMatch(/^\d+ ms$/);
    expect(await page.isVisible('#stale')).toBe(false);

    await sys.hub.stop();
    await waitFor(async () => (await page.getAttribute('#conn', 'data-state')) === 'reconnecting', 5_000, 'reconnecting');
    expect(await page.textContent('#conn')).toMatch(/reconnecting \(attempt \d+, next try in \d+\.\d s\)/);
    await waitFor(() => page.isVisible('#stale'), 5_000, 'stale warning');
    expect(await page.textContent('#stale')).toMatch(/data may be stale — last update \d+ s ago/);
    const before = await stateOf(page);

    sys.hub = await startHubService(sys.endpoint, sys.config);
    await waitFor(async () => (await page.getAttribute('#conn', 'data-state')) === 'connected', 10_000, 'connected again');
    await waitFor(async () => (await stateOf(page)).received.length > before.received.length + 5, 10_000, 'data resumes');
    const after = await stateOf(page);
    expect(after.joins).toBe(before.joins + 1);
    await waitFor(async () => !(await page.isVisible('#stale')), 3_000, 'stale warning cleared');
    await page.close();
  });

  it('two dashboards on one session: one disconnects, the other keeps receiving every sample', async () => {
    const a = await openDashboard();
    const b = await openDashboard();
    for (const p of [a, b]) await waitFor(async () => (await stateOf(p)).received.length > 3, 10_000, 'both receiving');
    const mark = (await stateOf(b)).received.length;
    await a.close();
    await new Promise((r) => setTimeout(r, 1_500));
    const seqs = (await stateOf(b)).received;
    expect(seqs.length).toBeGreaterThan(mark + 15);
    // contiguous from the first live sample on: no gap, no duplicate
    seqs.forEach((seq, i) => i > 0 && expect(seq).toBe(seqs[i - 1]! + 1));
    expect(await b.getAttribute('#conn', 'data-state')).toBe('connected');
    await b.close();
  });
});
