import { randomBytes } from 'node:crypto';

/**
 * A fresh id for one run of one actor: base-36 milliseconds (fixed width, so ids sort by
 * start time) and random bytes, e.g. `0mfz3k1q2-9f3a1c`. Lexical order is start order.
 */
export function newIncarnation(now: number = Date.now()): string {
  return `${now.toString(36).padStart(9, '0')}-${randomBytes(3).toString('hex')}`;
}
