import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSimDevice, type SimDevice } from '../../infra/device-sim/index.ts';
import { keyFromSeed, startEsp32Emulator, type Esp32Emulator } from '../../infra/esp32-emulator/index.ts';
import { freePort } from '../../infra/nats/index.ts';
import { startRpcBackend, type RpcBackend } from '../../infra/rpc-backend/index.ts';
import { childSpecSchema } from '../../services/child-supervisor/childSpec.ts';
import { startChildServices, type ChildService } from '../../services/cli/services/childServices.ts';
import { startLinkServices, type LinkService } from '../../services/cli/services/linkServices.ts';
import { startPollerServices, type PollerService } from '../../services/cli/services/rpcPollerServices.ts';
import { linkSpecSchema } from '../../services/esp32-link/linkSpec.ts';
import { pollerSpecSchema } from '../../services/rpc-poller/pollerSpec.ts';
import { FAST_LINK } from '../link/linkHarness.ts';
import { CHILD_FIXTURES, FAST_TIMING, FLASK_APP, SYSTEM_PYTHON } from '../support/childHarness.ts';
import { launchChromium } from '../support/chromium.ts';
import { ensureDashboardBuilt } from '../support/dashboardBuild.ts';
import { startTestPublisher, type TestPublisher } from '../support/telemetry.ts';
import { postCommand, startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * The dashboard's panels in headless Debian Chromium, each fed by a real part of a real
 * system: a simulated device (a flow that fails when the device crashes), a telemetry
 * publisher, an RPC poller whose backend is stopped (the stale banner), two supervised
 * children (the Flask app, and one whose import fails: troubleshooting steps), and an ESP32
 * link to the emulator (mesh nodes, a changed key). Then every machine's diagram: no two
 * transition labels overlap, nor a label a state's name. Screenshots in test/artifacts/.
 */
const ARTIFACTS = new URL('../artifacts/', import.meta.url);
const WAIT = 30_000; // generous: the full suite runs this next to other heavy files on 2 cores
const shot = (page: Page, name: string): Promise<Buffer> => page.screenshot({ path: new URL(name, ARTIFACTS).pathname, fullPage: true });

let sys: TestSystem;
let browser: Browser;
let page: Page;
let device: SimDevice;
let publisher: TestPublisher;
let backend: RpcBackend;
let pollers: PollerService[] = [];
let children: ChildService[] = [];
let emulator: Esp32Emulator;
let links: LinkService[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await ensureDashboardBuilt();
  sys = await startTestSystem();
  [device, publisher, backend, emulator, browser] = await Promise.all([
    connectSimDevice({ host: '127.0.0.1', port: sys.devicePort, name: 'panel-dev', resultDelayMs: 60_000 }),
    startTestPublisher(sys, 'panel-race'),
    startRpcBackend({ port: 0 }),
    startEsp32Emulator({ port: 0, nodes: 12 }),
    launchChromium(),
  ]);
  publisher.stream(100);
  const [flaskPort, brokenPort] = [await freePort(), await freePort()];
  [pollers, children, links] = await Promise.all([
    startPollerServices(sys.endpoint, [
      pollerSpecSchema.parse({ name: 'backend', url: backend.url, intervalMs: 100, callTimeoutMs: 800, slowCallMs: 600, openDurationMs: 60_000, probeIntervalMs: 400, halfOpenProbes: 2 }),
    ]),
    startChildServices(
      sys.endpoint,
      sys.config,
      [
        childSpecSchema.parse({ ...FAST_TIMING, name: 'flask', script: FLASK_APP, requires: ['flask', 'flask_cors'], port: flaskPort }),
        childSpecSchema.parse({ ...FAST_TIMING, name: 'broken', script: 'missing_module.py', interpreter: SYSTEM_PYTHON, port: brokenPort }),
      ],
      { baseDir: CHILD_FIXTURES, random: () => 0.5 },
    ),
    startLinkServices(sys.endpoint, sys.config, [linkSpecSchema.parse({ name: 'radio-panel', host: '127.0.0.1', port: emulator.port, ...FAST_LINK })]),
  ]);
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${sys.httpUrl}/dashboard/`);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([...links, ...pollers, ...children].map((s) => s.stop().catch(() => {})));
  await Promise.all([emulator?.close(), backend?.close().catch(() => {}), publisher?.close(), device?.close()]);
  await sys?.stop();
});

const attr = (selector: string, name: string): Promise<string | null> => page.getAttribute(selector, name, { timeout: 1_000 }).catch(() => null);

describe('dashboard panels fed by real parts', () => {
  it('flows: a command shows up in progress and turns failed, with the error, when its device crashes', async () => {
    const accepted = await postCommand(sys, '127.0.0.1:panel-dev', { node_id: 'panel-node-1', command: 'configure' });
    expect(accepted.status).toBe(202);
    const row = '#panel-flows tr.flow[data-node="panel-node-1"]';
    await waitFor(async () => (await attr(row, 'data-status')) === 'in progress', WAIT, 'flow in progress on the page');
    expect(await page.textContent(`${row} td:nth-child(2)`)).toBe('127.0.0.1:panel-dev');
    device.crash();
    await waitFor(async () => (await attr(row, 'data-status')) === 'failed', WAIT, 'flow failed on the page');
    expect(await page.textContent(`${row} td.error`)).toMatch(/^[A-Z_]+: .+/);
    await page.locator('#panel-flows').screenshot({ path: new URL('panel-flows.png', ARTIFACTS).pathname });
  });

  it('RPC data: fresh while the backend answers, then the stale banner (cached at, why) once it is stopped', async () => {
    const poller = '#panel-rpc .poller[data-poller="backend"]';
    await waitFor(async () => (await page.$$(`${poller} tr.rpc-method[data-stale="false"]`)).length === 4, WAIT, 'four fresh methods');
    expect(await page.$(`${poller} .stale-banner`)).toBeNull();
    await backend.close();
    await page.waitForSelector(`${poller} .stale-banner`, { timeout: WAIT });
    const banner = await page.textContent(`${poller} .stale-banner`);
    expect(banner).toMatch(/Stale data — cached at .+ago\)/);
    expect(banner).toContain('RPC_UNAVAILABLE');
    expect(await attr(poller, 'data-stale')).toBe('true');
    await page.locator('#panel-rpc').screenshot({ path: new URL('panel-rpc-stale.png', ARTIFACTS).pathname });
  });

  it('children: the Flask app ready with its pid and health; the broken one failed with its troubleshooting steps', async () => {
    const flask = '#panel-children tr.child[data-child="flask"]';
    await waitFor(async () => (await attr(flask, 'data-state')) === 'ready', 20_000, 'flask ready on the page');
    expect(await page.textContent(`${flask} td.pid`)).toMatch(/^\d+$/);
    expect(await page.textContent(`${flask} td.health`)).toMatch(/^ok /);
    const broken = '#panel-children tr.child[data-child="broken"]';
    await waitFor(async () => (await attr(broken, 'data-state'))?.startsWith('failed') ?? false, WAIT, 'broken child failed on the page');
    expect(await attr(`${broken} .error-block`, 'data-code')).toBe('DEPENDENCY_ERROR');
    await page.click(`${broken} details.troubleshooting summary`);
    const steps = await page.$$eval(`${broken} ol.steps li`, (lis) => lis.map((li) => li.textContent ?? ''));
    expect(steps.length).toBeGreaterThanOrEqual(2);
    expect(steps.join('\n')).toMatch(/import/);
    await page.locator('#panel-children').screenshot({ path: new URL('panel-children.png', ARTIFACTS).pathname });

    // the overview shows the same last error with its steps (from the actors projection)
    const actor = 'tr.actor[data-key="child:broken"]';
    expect(await attr(`${actor} .error-block`, 'data-code')).toBe('DEPENDENCY_ERROR');
    expect((await page.$$(`${actor} ol.steps li`)).length).toBe(steps.length);
  });

  it('telemetry sessions: the publisher connected and its latest sample', async () => {
    const row = '#panel-sessions tr.session[data-session="panel-race"]';
    await waitFor(async () => (await attr(row, 'data-state'))?.startsWith('connected') ?? false, WAIT, 'session connected on the page');
    await waitFor(async () => /lap \d+ · fuel [\d.]+ · P3/.test((await page.textContent(`${row} td.sample`)) ?? ''), WAIT, 'a sample on the page');
    expect(await page.getAttribute(`${row} a`, 'href')).toBe('/dashboard/telemetry?session=panel-race');
  });

  it('mesh nodes: every node of the radio with its key, then a changed key flagged', async () => {
    const link = '#panel-mesh .link[data-link="radio-panel"]';
    await waitFor(async () => (await page.$$(`${link} tr.mesh-node[data-key-status="ok"]`)).length === emulator.nodes().length, WAIT, 'every node with a key');
    await waitFor(async () => (await attr(link, 'data-link-state')) === 'ready.synced', WAIT, 'link state shown');
    const victim = emulator.nodes()[3]!;
    emulator.updateNodes({ ...victim, publicKey: keyFromSeed(4242) });
    emulator.kick();
    await page.waitForSelector(`${link} tr.mesh-node[data-key-status="changed"]`, { timeout: WAIT });
    expect(await page.getAttribute(`${link} tr.mesh-node[data-key-status="changed"]`, 'data-num')).toBe(String(victim.num));
    expect(await page.textContent(`${link} .summary`)).toMatch(/1 changed/);
    await page.locator('#panel-mesh').screenshot({ path: new URL('panel-mesh.png', ARTIFACTS).pathname });
    await shot(page, 'dashboard-panels.png');
  });

  it('the same panels after a reload, from the read-only list routes', async () => {
    await page.reload();
    await page.waitForSelector('#panel-flows tr.flow[data-node="panel-node-1"][data-status="failed"]', { timeout: WAIT });
    await page.waitForSelector('#panel-children tr.child[data-child="broken"] .error-block[data-code="DEPENDENCY_ERROR"]', { timeout: WAIT });
    await page.waitForSelector('#panel-sessions tr.session[data-session="panel-race"]', { timeout: WAIT });
    await page.waitForSelector('#panel-mesh tr.mesh-node[data-key-status="changed"]', { timeout: WAIT });
    await page.waitForSelector('tr.actor[data-key="child:broken"] ol.steps li', { state: 'attached', timeout: WAIT });

    const get = async (path: string): Promise<{ status: number; body: any }> => {
      const res = await fetch(`${sys.httpUrl}${path}`);
      return { status: res.status, body: await res.json() };
    };
    const flows = await get('/api/flows?status=failed');
    expect(flows.body).toEqual([expect.objectContaining({ node_id: 'panel-node-1', status: 'failed', device_id: '127.0.0.1:panel-dev', error: expect.objectContaining({ code: expect.any(String) }) })]);
    expect(await get('/api/flows?status=lost')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_QUERY', message: expect.any(String) } } });
    expect((await get('/api/mesh-nodes?link=radio-panel')).body).toHaveLength(emulator.nodes().length);
    expect((await get('/api/mesh-nodes?link=no-such-link')).body).toEqual([]);
    const sessions = (await get('/api/sessions')).body as Array<{ session_id: string; publisher: { state: string } | null; telemetry: unknown }>;
    expect(sessions.find((s) => s.session_id === 'panel-race')).toMatchObject({ publisher: { state: expect.stringMatching(/^connected/) }, telemetry: expect.objectContaining({ lap: expect.any(Number) }) });
    const errors = (await get('/api/actor-errors')).body as Array<{ kind: string; id: string; error: { code: string; troubleshooting: string[] } }>;
    const broken = errors.find((e) => e.kind === 'child' && e.id === 'broken');
    expect(broken?.error.code).toBe('DEPENDENCY_ERROR');
    expect(broken?.error.troubleshooting.length).toBeGreaterThanOrEqual(2);
  });

  it("every machine's diagram: no transition label overlaps another label or a state's name", async () => {
    // the reload above listed the `client` actors too (they are not broadcast, only loaded)
    for (const kind of ['device', 'telemetry', 'child', 'rpc', 'link', 'client']) {
      const row = `[data-kind="${kind}"] tr.actor`;
      await page.waitForSelector(row, { timeout: WAIT });
      await page.click(row);
      await page.waitForSelector(`#diagram[data-kind="${kind}"] svg g.node`, { timeout: WAIT });
      const found = await page.$$eval('#diagram svg', ([svg]) => {
        const box = (e: Element): DOMRect => (e as SVGGraphicsElement).getBBox();
        const labels = [...svg!.querySelectorAll('text.label')].map((t) => ({ text: t.textContent ?? '', b: box(t) }));
        const names = [...svg!.querySelectorAll('g.node > text')].map((t) => ({ text: t.textContent ?? '', b: box(t) }));
        // more than a pixel each way: glyph boxes of stacked lines may touch
        const overlap = (a: DOMRect, b: DOMRect): boolean =>
          Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x) > 1 && Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y) > 1;
        const clashes: string[] = [];
        labels.forEach((l, i) => {
          for (const m of labels.slice(i + 1)) if (overlap(l.b, m.b)) clashes.push(`${l.text} / ${m.text}`);
          for (const n of names) if (overlap(l.b, n.b)) clashes.push(`${l.text} / state ${n.text}`);
        });
        return { labels: labels.length, edges: svg!.querySelectorAll('path.edge').length, delayed: svg!.querySelectorAll('path.edge.delayed').length, clashes };
      });
      expect(found.clashes, `${kind}: overlapping labels`).toEqual([]);
      expect(found.labels, `${kind}: labels drawn`).toBeGreaterThan(5);
      expect(found.edges, `${kind}: edges drawn`).toBeGreaterThan(5);
      // delayed (`after`) edges in every machine; invoked ones (onDone/onError) where a state invokes
      expect(found.delayed, `${kind}: delayed edges`).toBeGreaterThan(0);
      if (['child', 'rpc', 'link'].includes(kind)) {
        const invoked = await page.$$eval('#diagram text.label', (ts) => ts.map((t) => t.textContent ?? ''));
        expect(invoked.some((t) => t.startsWith('done: ')) && invoked.some((t) => t.startsWith('error: ')), `${kind}: invoked edges`).toBe(true);
      }
      await page.locator('#diagram').screenshot({ path: new URL(`diagram-${kind}.png`, ARTIFACTS).pathname });
    }
  });
});
