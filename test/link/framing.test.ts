import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createDeframer,
  encodeFrame,
  FRAME_START1,
  FRAME_START2,
  FrameTooLargeError,
  MAX_FRAME_PAYLOAD,
  type DeframeEvent,
  type DeframerOptions,
} from '../../services/esp32-link/framing.ts';

/** Feeds `stream` split at `cuts` and returns every event, adjacent garbage merged. */
function deframe(stream: Uint8Array, cuts: number[] = [], options?: DeframerOptions): DeframeEvent[] {
  const d = createDeframer(options);
  const points = [...new Set(cuts.map((c) => Math.min(stream.length, Math.max(0, c))))].sort((a, b) => a - b);
  const events: DeframeEvent[] = [];
  let from = 0;
  for (const p of [...points, stream.length]) {
    events.push(...d.push(stream.slice(from, p)));
    from = p;
  }
  return mergeGarbage(events);
}

function mergeGarbage(events: DeframeEvent[]): DeframeEvent[] {
  const out: DeframeEvent[] = [];
  for (const e of events) {
    const last = out.at(-1);
    if (e.type === 'garbage' && last?.type === 'garbage') out[out.length - 1] = { type: 'garbage', bytes: concat([last.bytes, e.bytes]) };
    else out.push(e);
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

const frames = (events: DeframeEvent[]): number[][] => events.flatMap((e) => (e.type === 'frame' ? [[...e.payload]] : []));

/** Payloads of any size up to 512, biased towards containing the magic bytes. */
const payload = fc.oneof(
  fc.uint8Array({ maxLength: MAX_FRAME_PAYLOAD }),
  fc
    .tuple(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 3 }))
    .map(([a, b, n]) => concat([a, ...Array.from({ length: n }, () => Uint8Array.of(FRAME_START1, FRAME_START2, 0x00, 0x02)), b]).slice(0, MAX_FRAME_PAYLOAD)),
);
/** What a radio prints between frames: log text (never contains 0x94). */
const logText = fc.string({ maxLength: 80 }).map((s) => new TextEncoder().encode(`DEBUG | ${s.replace(/[^\x20-\x7e]/g, '?')}\r\n`));
/** Noise that cannot start a frame: bytes where every 0x94 is followed by something other than 0xC3. */
const noise = fc.uint8Array({ maxLength: 60 }).map((bytes) => {
  const out = [...bytes];
  for (let i = 0; i < out.length; i++) if (out[i] === FRAME_START1 && out[i + 1] === FRAME_START2) out[i + 1] = 0x00;
  if (out.at(-1) === FRAME_START1) out.push(0x00);
  return Uint8Array.from(out);
});
/** A false header whose length is over 512 (its length bytes are not 0x94: they must not start another header). */
const oversizedHeader = fc
  .integer({ min: MAX_FRAME_PAYLOAD + 1, max: 0xffff })
  .filter((len) => len >> 8 !== FRAME_START1 && (len & 0xff) !== FRAME_START1)
  .map((len) => Uint8Array.of(FRAME_START1, FRAME_START2, len >> 8, len & 0xff));
const cuts = fc.array(fc.nat({ max: 20_000 }), { maxLength: 30 });

describe('encodeFrame', () => {
  it('writes 0x94 0xC3, the big-endian length and the payload', () => {
    expect([...encodeFrame(Uint8Array.of(1, 2, 3))]).toEqual([0x94, 0xc3, 0x00, 0x03, 1, 2, 3]);
    expect([...encodeFrame(new Uint8Array(300)).slice(0, 4)]).toEqual([0x94, 0xc3, 0x01, 0x2c]);
    expect([...encodeFrame(new Uint8Array(0))]).toEqual([0x94, 0xc3, 0, 0]);
  });

  it('refuses a payload over 512 bytes', () => {
    expect(() => encodeFrame(new Uint8Array(513))).toThrow(FrameTooLargeError);
    expect(encodeFrame(new Uint8Array(512))).toHaveLength(516);
  });
});

describe('createDeframer (property)', () => {
  it('recovers every frame, whatever the payloads and however the stream is split', () => {
    fc.assert(
      fc.property(fc.array(payload, { maxLength: 12 }), cuts, (payloads, at) => {
        const stream = concat(payloads.map(encodeFrame));
        expect(frames(deframe(stream, at))).toEqual(payloads.map((p) => [...p]));
      }),
    );
  });

  it('a split stream gives exactly the events of the whole stream (chunk boundaries never matter)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3_000 }), cuts, (anything, at) => {
        expect(deframe(anything, at)).toEqual(deframe(anything));
      }),
    );
  });

  it('resyncs on log text, noise and oversized headers between frames, reporting them', () => {
    const junk = fc.array(fc.oneof(logText, noise, oversizedHeader), { maxLength: 3 }).map(concat);
    fc.assert(
      fc.property(fc.array(fc.tuple(junk, payload), { maxLength: 10 }), junk, cuts, (parts, tail, at) => {
        const stream = concat([...parts.flatMap(([j, p]) => [j, encodeFrame(p)]), tail]);
        const events = deframe(stream, at);
        expect(frames(events)).toEqual(parts.map(([, p]) => [...p]));
        // every byte is accounted for: frames + garbage = the stream
        const garbageBytes = events.reduce((n, e) => n + (e.type === 'garbage' ? e.bytes.length : 0), 0);
        const frameBytes = parts.reduce((n, [, p]) => n + 4 + p.length, 0);
        expect(garbageBytes + frameBytes).toBe(stream.length);
      }),
    );
  });

  it('never holds more than one frame, never emits a payload over 512 bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 20 }), (chunks) => {
        const d = createDeframer();
        for (const c of chunks) {
          for (const e of d.push(c)) if (e.type === 'frame') expect(e.payload.length).toBeLessThanOrEqual(MAX_FRAME_PAYLOAD);
          expect(d.buffered()).toBeLessThanOrEqual(MAX_FRAME_PAYLOAD + 4);
        }
      }),
    );
  });

  it('with an accept check, a false header in the noise cannot swallow the real frame after it', () => {
    // the real payloads all start with 0x08 (a protobuf field 1 varint), the false one does not
    const real = fc.uint8Array({ maxLength: 100 }).map((b) => concat([Uint8Array.of(0x08), b]));
    const accept = (p: Uint8Array): boolean => p[0] === 0x08;
    fc.assert(
      fc.property(fc.array(real, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 40 }), cuts, (payloads, falseLen, at) => {
        const falseHeader = Uint8Array.of(FRAME_START1, FRAME_START2, 0, falseLen);
        // the radio keeps talking: enough bytes follow for the false length to be checked
        const stream = concat([falseHeader, ...payloads.map(encodeFrame), new TextEncoder().encode('INFO | '.repeat(8))]);
        expect(frames(deframe(stream, at, { accept }))).toEqual(payloads.map((p) => [...p]));
      }),
    );
  });
});

describe('createDeframer (examples)', () => {
  it('reports an oversized header and finds the frame hidden right after its magic bytes', () => {
    const stream = concat([Uint8Array.of(0x94, 0xc3, 0x94, 0xc3), Uint8Array.of(0x00, 0x01, 0x2a)]);
    // 0x94 0xC3 0x94 0xC3 reads as length 0x94C3 (38083): rejected; the hunt resumes at byte 1
    const events = deframe(stream);
    expect(events).toEqual([
      { type: 'oversized', length: 0x94c3 },
      { type: 'garbage', bytes: Uint8Array.of(0x94, 0xc3) },
      { type: 'frame', payload: Uint8Array.of(0x2a) },
    ]);
  });

  it('keeps a payload that contains the magic bytes and a header of its own as one frame', () => {
    const inner = encodeFrame(Uint8Array.of(1, 2));
    const p = concat([Uint8Array.of(9), inner, Uint8Array.of(0x94, 0xc3)]);
    expect(frames(deframe(encodeFrame(p), [1, 5, 6, 7]))).toEqual([[...p]]);
  });

  it('0x94 0x94 0xC3 …: the second 0x94 starts the frame', () => {
    expect(frames(deframe(concat([Uint8Array.of(0x94), encodeFrame(Uint8Array.of(7))]), [1]))).toEqual([[7]]);
  });
});
