import fc from 'fast-check';
import { draw } from './arbitraries.ts';
import { count, type FuzzTally } from './tally.ts';

/**
 * Malformed Meshtastic frames from the radio to the ESP32 link, written by the emulator
 * (`raw <hex>` on its stdin) between its own frames: a header (0x94 0xC3, 16-bit length)
 * with random bytes, lengths over 512, a header cut short, lone magic bytes, log text.
 * No answer is due: the deframer drops noise and the link must keep serving; the caller
 * checks that the link still answers its ping and its host still runs.
 */

const MAGIC = [0x94, 0xc3];

const frameArb = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 120 }).map((p) => [...MAGIC, p.length >> 8, p.length & 0xff, ...p]),
  fc.tuple(fc.integer({ min: 513, max: 0xffff }), fc.uint8Array({ maxLength: 40 })).map(([len, p]) => [...MAGIC, len >> 8, len & 0xff, ...p]),
  fc.tuple(fc.integer({ min: 10, max: 512 }), fc.uint8Array({ maxLength: 8 })).map(([len, p]) => [...MAGIC, len >> 8, len & 0xff, ...p]),
  fc.uint8Array({ minLength: 1, maxLength: 60 }).map((p) => [...p]),
  fc.constantFrom([0x94], [0x94, 0xc3], [0xc3, 0x94, 0x94]),
  fc.string({ maxLength: 60 }).map((s) => [...Buffer.from(`DEBUG | ${s}\r\n`)]),
);

/** Sends `n` frames through `send` (hex), paced so the link reads them as separate chunks now and then. */
export async function fuzzMesh(send: (hex: string) => void, seed: number, n: number, tally: FuzzTally): Promise<void> {
  for (const bytes of draw(frameArb, seed, n)) {
    send(Buffer.from(bytes).toString('hex'));
    count(tally, 'absorbed');
    await new Promise((r) => setTimeout(r, 15));
  }
}

export function meshTallyUntyped(tally: FuzzTally, reason: string): void {
  tally.absorbed = 0;
  tally.untyped = tally.sent;
  tally.examples.push(reason);
}
