import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pruneWindow, rateTripped, recordOutcome, windowStats, type CallOutcome } from '../../../machines/lib/circuitWindow.ts';

const policy = { windowMs: 10_000, failureRateThreshold: 0.5, minimumCalls: 4 };

describe('circuit window', () => {
  it('counts only the calls inside the rolling window', () => {
    let w: CallOutcome[] = [];
    w = recordOutcome(w, { at: 1_000, ok: false }, policy.windowMs);
    w = recordOutcome(w, { at: 5_000, ok: true }, policy.windowMs);
    w = recordOutcome(w, { at: 11_500, ok: false }, policy.windowMs);
    // the call at 1 000 left the window ending at 11 500
    expect(w).toEqual([{ at: 5_000, ok: true }, { at: 11_500, ok: false }]);
    expect(windowStats(w, 11_500, policy.windowMs)).toEqual({ calls: 2, failures: 1, failureRate: 0.5 });
    expect(windowStats(w, 16_000, policy.windowMs)).toEqual({ calls: 1, failures: 1, failureRate: 1 });
    expect(windowStats([], 0, policy.windowMs).failureRate).toBe(0);
  });

  it('trips at the failure-rate threshold only with the minimum number of calls', () => {
    const fails = (n: number, at = 100): CallOutcome[] => Array.from({ length: n }, (_, i) => ({ at: at + i, ok: false }));
    expect(rateTripped(fails(3), 200, policy)).toBe(false); // 100 % but only 3 calls
    expect(rateTripped(fails(4), 200, policy)).toBe(true);
    const half = [...fails(2), { at: 103, ok: true }, { at: 104, ok: true }];
    expect(rateTripped(half, 200, policy)).toBe(true); // 50 % ≥ 0.5
    expect(rateTripped([...half, { at: 105, ok: true }], 200, policy)).toBe(false); // 40 %
    expect(rateTripped(fails(4), 200 + policy.windowMs, policy)).toBe(false); // all expired
  });

  it('property: the window never holds an outcome older than windowMs, and the rate is failures/calls', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5_000 }), fc.boolean()), { maxLength: 60 }), (steps) => {
        let w: CallOutcome[] = [];
        let t = 0;
        for (const [dt, ok] of steps) {
          t += dt;
          w = recordOutcome(w, { at: t, ok }, policy.windowMs);
          expect(w.every((o) => o.at > t - policy.windowMs)).toBe(true);
          const s = windowStats(w, t, policy.windowMs);
          expect(s.calls).toBe(pruneWindow(w, t, policy.windowMs).length);
          expect(s.failureRate).toBeCloseTo(s.calls ? s.failures / s.calls : 0);
        }
      }),
    );
  });
});
