/**
 * Meshtastic stream framing (serial and TCP API, port 4403), pure: no I/O.
 *
 * Every protobuf (`ToRadio` to the radio, `FromRadio` from it) travels as
 *
 *     0x94 0xC3 <length, 16-bit big-endian> <length bytes of protobuf>
 *
 * with length at most 512 (the firmware's MAX_TO_FROM_RADIO_SIZE). Between frames a radio
 * may write anything else — debug log text on a serial console, line noise — so the
 * reader hunts for the two magic bytes byte by byte.
 */

export const FRAME_START1 = 0x94;
export const FRAME_START2 = 0xc3;
export const FRAME_HEADER_BYTES = 4;
/** The firmware rejects (and never sends) a longer payload. */
export const MAX_FRAME_PAYLOAD = 512;

export class FrameTooLargeError extends Error {
  readonly code = 'FRAME_TOO_LARGE';
}

/** One payload → header + payload. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_FRAME_PAYLOAD) {
    throw new FrameTooLargeError(`a Meshtastic frame carries at most ${MAX_FRAME_PAYLOAD} bytes, not ${payload.length}`);
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  frame[0] = FRAME_START1;
  frame[1] = FRAME_START2;
  frame[2] = payload.length >> 8;
  frame[3] = payload.length & 0xff;
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export type DeframeEvent =
  /** A complete frame's payload (possibly empty: an empty protobuf is valid). */
  | { type: 'frame'; payload: Uint8Array }
  /** Bytes that are not part of any frame (log text, noise), in stream order. */
  | { type: 'garbage'; bytes: Uint8Array }
  /** A magic pair followed by a length over 512: not a frame; the hunt resumes after 0x94. */
  | { type: 'oversized'; length: number }
  /** `accept` refused a payload: its header is treated as garbage and the hunt resumes after 0x94. */
  | { type: 'rejected'; length: number };

export interface DeframerOptions {
  /**
   * Called on every complete payload; returning false means "this was not a real frame"
   * (e.g. it does not decode), so a false header found in noise cannot swallow the real
   * frame that follows it. Default: every payload is accepted.
   */
  accept?: (payload: Uint8Array) => boolean;
}

export interface Deframer {
  /** Feeds the next bytes of the stream; returns what they completed, in order. */
  push(chunk: Uint8Array): DeframeEvent[];
  /** Bytes held waiting for the rest of a frame (never more than one frame's worth). */
  buffered(): number;
}

/**
 * A streaming deframer. The result never depends on how the stream is split into chunks.
 * It resyncs on anything: garbage before the magic bytes is reported and dropped, a
 * 0x94 not followed by 0xC3 is garbage, an oversized length rejects the header and the
 * search restarts at the byte after its 0x94 (so a real frame that starts inside a false
 * header is still found), and once a header is accepted exactly `length` payload bytes
 * are taken as they are — a payload containing 0x94 0xC3 stays one frame.
 */
export function createDeframer(options: DeframerOptions = {}): Deframer {
  const accept = options.accept ?? (() => true);
  /** Pending bytes: always starts at a candidate 0x94 (or is empty). */
  let pending = new Uint8Array(0);

  function push(chunk: Uint8Array): DeframeEvent[] {
    const events: DeframeEvent[] = [];
    const buf = concat(pending, chunk);
    let garbageFrom = -1;
    const flushGarbage = (until: number): void => {
      if (garbageFrom >= 0 && until > garbageFrom) events.push({ type: 'garbage', bytes: buf.slice(garbageFrom, until) });
      garbageFrom = -1;
    };
    const skip = (at: number): void => {
      if (garbageFrom < 0) garbageFrom = at;
    };

    let i = 0;
    while (i < buf.length) {
      if (buf[i] !== FRAME_START1) {
        skip(i);
        i += 1;
        continue;
      }
      if (i + 1 >= buf.length) break; // a lone 0x94 at the end: wait for the next byte
      if (buf[i + 1] !== FRAME_START2) {
        skip(i);
        i += 1;
        continue;
      }
      if (i + FRAME_HEADER_BYTES > buf.length) break; // wait for the length bytes
      const length = (buf[i + 2]! << 8) | buf[i + 3]!;
      if (length > MAX_FRAME_PAYLOAD) {
        skip(i);
        flushGarbageBeforeNotice(i);
        events.push({ type: 'oversized', length });
        i += 1;
        continue;
      }
      const end = i + FRAME_HEADER_BYTES + length;
      if (end > buf.length) break; // wait for the rest of the payload
      const payload = buf.slice(i + FRAME_HEADER_BYTES, end);
      if (!accept(payload)) {
        skip(i);
        flushGarbageBeforeNotice(i);
        events.push({ type: 'rejected', length });
        i += 1;
        continue;
      }
      flushGarbage(i);
      events.push({ type: 'frame', payload });
      i = end;
    }
    flushGarbage(i);
    pending = buf.slice(i);
    return events;

    /**
     * Garbage seen before a rejected header is reported before the notice; the rejected
     * header's own bytes join the garbage that follows (they are reported once the
     * hunt finds the next frame or runs out of input).
     */
    function flushGarbageBeforeNotice(at: number): void {
      if (garbageFrom >= 0 && garbageFrom < at) {
        events.push({ type: 'garbage', bytes: buf.slice(garbageFrom, at) });
        garbageFrom = at;
      }
    }
  }

  return { push, buffered: () => pending.length };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
