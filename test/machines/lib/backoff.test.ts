import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, backoffSchedule, type BackoffPolicy } from '../../../machines/lib/backoff.ts';

describe('backoffDelay', () => {
  it('grows by the factor from the initial delay up to the cap', () => {
    expect(backoffSchedule({ initialMs: 2_000, factor: 2, maxMs: 30_000 }, 6)).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(backoffSchedule({ initialMs: 500, factor: 1.2, maxMs: 2_000 }, 10)).toEqual([500, 600, 720, 864, 1_037, 1_244, 1_493, 1_792, 2_000, 2_000]);
  });

  it('stays finite for huge attempt numbers and treats a bad factor or attempt sanely', () => {
    expect(backoffDelay({ initialMs: 100, factor: 2, maxMs: 5_000 }, 10_000)).toBe(5_000);
    expect(backoffDelay({ initialMs: 100, factor: 0.5, maxMs: 5_000 }, 3)).toBe(100);
    expect(backoffDelay({ initialMs: 100, factor: 2, maxMs: 5_000 }, -4)).toBe(100);
  });

  it('jitter spreads the delay by ± the fraction, around the capped value', () => {
    const policy: BackoffPolicy = { initialMs: 1_000, factor: 2, maxMs: 4_000, jitter: 0.2 };
    expect(backoffDelay(policy, 0, () => 0)).toBe(800);
    expect(backoffDelay(policy, 0, () => 0.5)).toBe(1_000);
    expect(backoffDelay(policy, 0, () => 0.999_999)).toBe(1_200);
    expect(backoffDelay(policy, 5, () => 0)).toBe(3_200);
  });

  it('property: within [d·(1−j), d·(1+j)] of the undithered delay, which never decreases', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 60 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        (initialMs, factor, maxMs, jitter, attempt, r) => {
          const plain = { initialMs, factor, maxMs };
          const d = backoffDelay(plain, attempt);
          expect(backoffDelay(plain, attempt + 1)).toBeGreaterThanOrEqual(d);
          const jittered = backoffDelay({ ...plain, jitter }, attempt, () => r);
          expect(jittered).toBeGreaterThanOrEqual(Math.floor(d * (1 - jitter)) - 1);
          expect(jittered).toBeLessThanOrEqual(Math.ceil(d * (1 + jitter)) + 1);
        },
      ),
    );
  });
});
