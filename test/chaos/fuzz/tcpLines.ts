import net from 'node:net';
import fc from 'fast-check';
import { badUtf8, draw, notJson, oversized, wrongShape } from './arbitraries.ts';
import { count, preview, type FuzzTally } from './tally.ts';

/**
 * Malformed lines to the device gateway, on fresh sockets: before `hello` (the handshake
 * answers `{"type":"error","code"}` and closes) and after a valid `hello` (the device
 * actor fails with a code, sends it, and closes). Typed = an error line with a code.
 */

interface Exchange {
  lines: string[];
  closed: boolean;
}

async function exchange(port: number, payload: Buffer, helloName: string | null, waitMs: number): Promise<Exchange> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  let received = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (received += d.toString('utf8')));
  const closedP = new Promise<void>((resolve) => socket.once('close', () => ((closed = true), resolve())));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  if (helloName !== null) {
    socket.write(`${JSON.stringify({ type: 'hello', device: helloName, nodes: 1 })}\n`);
    const deadline = Date.now() + 3_000;
    while (!received.includes('"welcome"') && !closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }
  socket.write(payload);
  await Promise.race([closedP, new Promise((r) => setTimeout(r, waitMs))]);
  socket.destroy();
  return { lines: received.split('\n').filter((l) => l.length > 0), closed };
}

function errorCode(lines: string[]): string | undefined {
  for (const line of lines) {
    try {
      const msg = JSON.parse(line) as { type?: unknown; code?: unknown };
      if (msg.type === 'error' && typeof msg.code === 'string') return msg.code;
    } catch {
      /* not JSON: not an error line */
    }
  }
  return undefined;
}

const lineArb = fc.oneof(
  { weight: 3, arbitrary: notJson.map((s) => Buffer.from(`${s}\n`)) },
  { weight: 3, arbitrary: wrongShape.map((s) => Buffer.from(`${s}\n`)) },
  { weight: 2, arbitrary: badUtf8.map((b) => Buffer.concat([b, Buffer.from('\n')])) },
  { weight: 1, arbitrary: oversized.map((s) => Buffer.from(`${s}\n`)) },
);

export async function fuzzTcpLines(port: number, seed: number, n: number, tally: FuzzTally, label: string): Promise<void> {
  const inputs = draw(fc.tuple(lineArb, fc.boolean()), seed, n);
  let i = 0;
  for (const [payload, afterHello] of inputs) {
    i += 1;
    const ex = await exchange(port, payload, afterHello ? `fuzz-${label}-${i}` : null, 3_000);
    const code = errorCode(ex.lines);
    if (code) count(tally, 'typed');
    else if (!ex.closed) count(tally, 'accepted');
    else count(tally, 'untyped', () => `${afterHello ? 'after hello' : 'before hello'} ${preview(payload)} → ${JSON.stringify(ex.lines).slice(0, 200)}`);
  }
}
