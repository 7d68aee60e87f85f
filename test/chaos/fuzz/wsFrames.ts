import fc from 'fast-check';
import WebSocket from 'ws';
import { draw, notJson, wrongShape } from './arbitraries.ts';
import { count, preview, type FuzzTally } from './tally.ts';

/**
 * Malformed frames to the hub's /ws on one client: not JSON, wrong shapes, known types
 * with wrong fields, binary frames, an unknown session to join. Typed = an
 * `{"type":"error","code"}` frame in answer, the connection kept.
 */

const frameArb = fc.oneof(
  { weight: 3, arbitrary: notJson.map((s) => ({ data: s as string | Buffer, binary: false })) },
  { weight: 3, arbitrary: wrongShape.map((s) => ({ data: s as string | Buffer, binary: false })) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        fc.record({ type: fc.constant('subscribe'), topics: fc.oneof(fc.integer(), fc.string(), fc.array(fc.integer(), { minLength: 1 })) }),
        fc.record({ type: fc.constant('join_session'), session_id: fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.string())) }),
        fc.record({ type: fc.constant('join_session'), session_id: fc.string({ minLength: 1, maxLength: 30 }).map((s) => `nope-${s}`) }),
        fc.record({ type: fc.oneof(fc.integer(), fc.string({ maxLength: 12 }).filter((t) => !['ping', 'subscribe', 'join_session', 'leave_session'].includes(t))) }),
      )
      .map((v) => ({ data: JSON.stringify(v) as string | Buffer, binary: false })),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => ({ data: Buffer.from(b) as string | Buffer, binary: true })) },
);

export async function fuzzWs(httpUrl: string, seed: number, n: number, tally: FuzzTally): Promise<void> {
  const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/ws`);
  const frames: Array<{ type?: unknown; code?: unknown }> = [];
  let closed = false;
  ws.on('message', (d) => {
    try {
      frames.push(JSON.parse(d.toString()) as { type?: unknown });
    } catch {
      frames.push({});
    }
  });
  ws.on('error', () => {});
  ws.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  try {
    for (const f of draw(frameArb, seed, n)) {
      if (closed) {
        count(tally, 'untyped', () => `${preview(f.data)}: the hub had closed the connection`);
        continue;
      }
      const before = frames.length;
      ws.send(f.data, { binary: f.binary });
      // a frame that needs a KV read (join_session) is answered when the read ends: while a
      // cluster node is down that can take its timeout (5 s)
      const deadline = Date.now() + 7_000;
      let outcome: 'typed' | 'untyped' | undefined;
      while (Date.now() < deadline && !closed) {
        if (frames.slice(before).some((m) => m.type === 'error' && typeof m.code === 'string')) {
          outcome = 'typed';
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      if (outcome === 'typed') count(tally, 'typed');
      else count(tally, 'untyped', () => `${preview(f.data)} → ${closed ? 'connection closed' : 'no error frame'}`);
    }
  } finally {
    ws.close(1000);
  }
}
