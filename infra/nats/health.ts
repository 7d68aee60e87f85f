import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

const POLL_MS = 50;
const REQUEST_TIMEOUT_MS = 1_000;

const varzSchema = z.object({ server_id: z.string(), port: z.number() });

export interface ReadinessProbe {
  monitorUrl: string;
  clientPort: number;
  /** The ID the starting process printed, once it did. */
  serverId(): string | undefined;
  /** True once the starting process has exited. */
  hasExited(): boolean;
  timeoutMs: number;
  /** false: /varz answering is enough (see StartNatsServerOptions.readiness). */
  healthz?: boolean;
}

export type Readiness = 'ready' | 'exited' | 'timeout';

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/**
 * Ready when /healthz answers 200 (JetStream included; unless `healthz` is false) and /varz shows that the server
 * answering is the one we started: same client port and, once printed, the same server
 * ID. That guards against a leftover server that still holds the monitoring port.
 */
async function isReady(probe: ReadinessProbe): Promise<boolean> {
  try {
    if (probe.healthz !== false) {
      const health = await getJson(`${probe.monitorUrl}/healthz`);
      if (health.status !== 200) return false;
    }
    const varz = varzSchema.safeParse((await getJson(`${probe.monitorUrl}/varz`)).body);
    if (!varz.success || varz.data.port !== probe.clientPort) return false;
    const expected = probe.serverId();
    return expected === undefined || varz.data.server_id === expected;
  } catch {
    return false; // not listening yet
  }
}

export async function waitUntilReady(probe: ReadinessProbe): Promise<Readiness> {
  const deadline = Date.now() + probe.timeoutMs;
  for (;;) {
    if (probe.hasExited()) return 'exited';
    if (await isReady(probe)) return probe.hasExited() ? 'exited' : 'ready';
    if (Date.now() >= deadline) return 'timeout';
    await sleep(POLL_MS);
  }
}
