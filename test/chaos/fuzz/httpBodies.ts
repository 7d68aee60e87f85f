import fc from 'fast-check';
import { draw, notJson, wrongShape } from './arbitraries.ts';
import { count, preview, type FuzzTally } from './tally.ts';

/**
 * Malformed requests to the hub: command bodies (not JSON, wrong shapes, wrong field types,
 * over 64 KiB, the wrong content type) to a connected device and to unknown ones, and odd
 * ids on the other routes. Typed = a 4xx/503 answer `{"error":{"code"}}`.
 */

interface Case {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  contentType?: string;
}

const badCommand = fc.oneof(
  notJson,
  wrongShape,
  fc.record({ node_id: fc.oneof(fc.integer(), fc.constant(''), fc.constant(null)), command: fc.string({ maxLength: 10 }) }).map((v) => JSON.stringify(v)),
  fc.record({ node_id: fc.string({ minLength: 1, maxLength: 10 }), command: fc.oneof(fc.integer(), fc.array(fc.integer()), fc.constant('')) }).map((v) => JSON.stringify(v)),
  fc.record({ node_id: fc.constant('n'), command: fc.constant('x'), instance: fc.oneof(fc.constant(0), fc.constant(-1), fc.constant(1.5), fc.constant(99), fc.constant('1')) }).map((v) => JSON.stringify(v)),
  fc.record({ node_id: fc.constant('n'), command: fc.constant('x'), params: fc.oneof(fc.integer(), fc.string(), fc.array(fc.integer())) }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 65_600, max: 80_000 }).map((n) => JSON.stringify({ node_id: 'n', command: 'x', params: { pad: 'x'.repeat(n) } })),
);

const oddId = fc.oneof(fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }), fc.constant('..'), fc.constant('%'), fc.constant('a/b'));

function caseArb(deviceIds: string[]): fc.Arbitrary<Case> {
  const device = deviceIds.length > 0 ? fc.oneof(fc.constantFrom(...deviceIds), oddId) : oddId;
  return fc.oneof(
    { weight: 5, arbitrary: fc.tuple(device, badCommand).map(([id, body]) => ({ method: 'POST' as const, path: `/api/devices/${encodeURIComponent(id)}/commands`, body, contentType: 'application/json' })) },
    { weight: 1, arbitrary: fc.tuple(device, fc.string({ maxLength: 50 })).map(([id, body]) => ({ method: 'POST' as const, path: `/api/devices/${encodeURIComponent(id)}/commands`, body, contentType: 'text/plain' })) },
    { weight: 1, arbitrary: oddId.map((id) => ({ method: 'GET' as const, path: `/api/flows/${encodeURIComponent(id)}` })) },
    { weight: 1, arbitrary: fc.tuple(oddId, fc.constantFrom('start', 'stop')).map(([id, action]) => ({ method: 'POST' as const, path: `/api/children/${encodeURIComponent(id)}/${action}`, body: '{}', contentType: 'application/json' })) },
    { weight: 1, arbitrary: oddId.map((id) => ({ method: 'GET' as const, path: `/api/children/${encodeURIComponent(id)}` })) },
    { weight: 1, arbitrary: oddId.map((id) => ({ method: 'GET' as const, path: `/api/${encodeURIComponent(id)}` })) },
  );
}

export async function fuzzHttp(httpUrl: string, deviceIds: string[], seed: number, n: number, tally: FuzzTally): Promise<void> {
  for (const c of draw(caseArb(deviceIds), seed, n)) {
    const what = (): string => `${c.method} ${c.path.slice(0, 80)} ${c.body !== undefined ? preview(c.body) : ''}`;
    try {
      const res = await fetch(`${httpUrl}${c.path}`, {
        method: c.method,
        ...(c.body !== undefined ? { body: c.body, headers: { 'content-type': c.contentType ?? 'application/json' } } : {}),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (res.status < 400) {
        count(tally, 'accepted');
        continue;
      }
      let code: unknown;
      try {
        code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
      } catch {
        code = undefined;
      }
      if (typeof code === 'string' && (res.status < 500 || res.status === 503)) count(tally, 'typed');
      else count(tally, 'untyped', () => `${what()} → ${res.status} ${text.slice(0, 120)}`);
    } catch (err) {
      count(tally, 'untyped', () => `${what()} → ${(err as Error).message}`);
    }
  }
}
