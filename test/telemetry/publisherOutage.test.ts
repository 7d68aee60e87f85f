import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAMS } from '../../services/bus/subjects.ts';
import { encodeToken } from '../../services/bus/tokens.ts';
import { readStream } from '../support/streams.ts';
import { sessionEntry, startTestPublisher, type TestPublisher } from '../support/telemetry.ts';
import { startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * nats-server is SIGKILLed for ~1.5 s while two publishers keep producing 50 samples a
 * second: `roomy` (buffer 10,000) must deliver every sample once, in order, after its
 * setup; `tight` (buffer 20) must drop the oldest and publish how many it dropped.
 */
let sys: TestSystem;
let roomy: TestPublisher;
let tight: TestPublisher;

beforeAll(async () => {
  sys = await startTestSystem({ gateway: false });
  roomy = await startTestPublisher(sys, 'roomy');
  tight = await startTestPublisher(sys, 'tight', { bufferCapacity: 20 });
});

afterAll(async () => {
  if (sys && !sys.nats.running) await sys.nats.restart().catch(() => {});
  await roomy?.close();
  await tight?.close();
  await sys?.stop();
});

const decode = (d: Uint8Array): Record<string, unknown> => JSON.parse(Buffer.from(d).toString('utf8')) as Record<string, unknown>;

describe('telemetry publisher through a NATS outage', () => {
  it('reconnects with the same session, re-sends setup first, delivers the buffer in order, and reports what a full buffer dropped', async () => {
    await waitFor(() => roomy.publisher.stats().state === 'connected.streaming' && tight.publisher.stats().state === 'connected.streaming', 10_000, 'both streaming');
    const a = roomy.stream(20);
    const b = tight.stream(20);
    await new Promise((r) => setTimeout(r, 600));
    const beforeKill = roomy.publisher.stats().published;
    expect(beforeKill).toBeGreaterThan(10);

    await sys.nats.kill('SIGKILL');
    await waitFor(() => roomy.publisher.stats().state === 'reconnecting', 5_000, 'publisher sees the loss');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(roomy.publisher.stats().buffered).toBeGreaterThan(40);
    await sys.nats.restart();
    await new Promise((r) => setTimeout(r, 300));
    a.stop();
    b.stop();
    const total = a.count();
    await waitFor(() => roomy.publisher.stats().published === total && roomy.publisher.stats().buffered === 0, 10_000, 'roomy drained');
    await waitFor(() => tight.publisher.stats().buffered === 0, 10_000, 'tight drained');

    // roomy: same session and incarnation, setup before the samples of each connection, every sample once and in order
    const stored = await readStream(sys.admin.nc, STREAMS.telemetry, `telemetry.${encodeToken('roomy')}.>`);
    const kinds = stored.map((m) => m.subject.split('.')[2]);
    const data = stored.filter((m) => m.subject.endsWith('.data')).map((m) => decode(m.data));
    expect(data.map((d) => d.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(new Set(data.map((d) => d.session_id))).toEqual(new Set(['roomy']));
    expect(new Set(data.map((d) => d.incarnation)).size).toBe(1);
    const setups = kinds.flatMap((k, i) => (k === 'setup' ? [i] : []));
    expect(setups.length).toBeGreaterThanOrEqual(2);
    expect(setups[0]).toBe(0);
    // the second setup comes before every sample that waited in the buffer
    const firstBuffered = data.findIndex((d) => (d.seq as number) > beforeKill + 25);
    expect(setups[1]).toBeLessThan(stored.findIndex((m) => m.subject.endsWith('.data') && decode(m.data).seq === data[firstBuffered]!.seq));
    expect(roomy.publisher.stats().connections).toBe(2);
    expect(roomy.publisher.stats().dropped).toBe(0);

    // tight: oldest dropped, the drop count published, published + dropped = produced
    const t = tight.publisher.stats();
    expect(t.dropped).toBeGreaterThan(0);
    expect(t.published + t.dropped).toBe(b.count());
    const tightStored = await readStream(sys.admin.nc, STREAMS.telemetry, `telemetry.${encodeToken('tight')}.>`);
    const gaps = tightStored.filter((m) => m.subject.endsWith('.gap')).map((m) => decode(m.data));
    expect(gaps.reduce((n, g) => n + (g.dropped as number), 0)).toBe(t.dropped);
    const tightSeqs = tightStored.filter((m) => m.subject.endsWith('.data')).map((m) => decode(m.data).seq as number);
    expect(tightSeqs).toEqual([...tightSeqs].sort((x, y) => x - y));

    // the projection: the latest sample, the gap, and the publisher back in `connected`
    await waitFor(async () => {
      const tel = await sessionEntry(sys, 'roomy', 'telemetry');
      const gap = await sessionEntry(sys, 'tight', 'gap');
      const pub = await sessionEntry(sys, 'roomy', 'publisher');
      return tel?.seq === total && gap?.dropped_total === t.dropped && pub?.state?.startsWith('connected') && pub.connections === 2;
    }, 10_000, 'sessions projection caught up');
  });
});
