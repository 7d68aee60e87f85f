import fc from 'fast-check';

/** Shared fast-check inputs: values drawn deterministically from the run's seed. */

/** `n` values of `arb`, the same ones for the same seed. */
export function draw<T>(arb: fc.Arbitrary<T>, seed: number, n: number): T[] {
  return fc.sample(arb, { seed, numRuns: n });
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Text that is not JSON (and not blank), on one line. */
export const notJson = fc
  .string({ minLength: 1, maxLength: 200, unit: 'binary' })
  .map((s) => s.replace(/[\r\n]/g, ' '))
  .filter((s) => s.trim().length > 0 && !isJson(s));

/** Valid JSON of the wrong shape: scalars, arrays, objects with unknown or mistyped fields. */
export const wrongShape = fc.oneof(
  fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 20 })).map((v) => JSON.stringify(v)),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }).map((v) => JSON.stringify(v)),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }).map((v) => JSON.stringify(v)),
);

/** Bytes that are not valid UTF-8 (a lead byte without its continuation, stray continuations, 0xFF). */
export const badUtf8 = fc
  .tuple(fc.string({ maxLength: 30 }), fc.constantFrom([0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0x80], [0xff, 0xfe], [0xed, 0xa0, 0x80]), fc.string({ maxLength: 30 }))
  .map(([a, bad, b]) => Buffer.concat([Buffer.from(`{${a.replace(/[\r\n]/g, ' ')}`), Buffer.from(bad), Buffer.from(b.replace(/[\r\n]/g, ' '))]));

/** A line over the 64 KiB limit. */
export const oversized = fc.integer({ min: 65_537, max: 90_000 }).map((n) => `{"type":"status","pad":"${'x'.repeat(n)}"}`);
