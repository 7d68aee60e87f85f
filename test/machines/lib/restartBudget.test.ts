import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allowsRestart, recordRestart, restartsInWindow } from '../../../machines/lib/restartBudget.ts';

const intensity = { maxRestarts: 3, windowMs: 60_000 };

describe('restart budget (MaxR in MaxT)', () => {
  it('allows MaxR restarts in the window and refuses the next one', () => {
    let history: number[] = [];
    for (const t of [0, 10_000, 20_000]) {
      expect(allowsRestart(history, t, intensity)).toBe(true);
      history = recordRestart(history, t, intensity);
    }
    expect(allowsRestart(history, 30_000, intensity)).toBe(false);
  });

  it('slides: a restart leaves the window MaxT after it happened', () => {
    const history = [0, 10_000, 20_000];
    expect(allowsRestart(history, 59_999, intensity)).toBe(false);
    expect(allowsRestart(history, 60_000, intensity)).toBe(true);
    expect(restartsInWindow(history, 60_000, 60_000)).toEqual([10_000, 20_000]);
    expect(recordRestart(history, 70_000, intensity)).toEqual([20_000, 70_000]);
  });

  it('MaxR 0 never restarts', () => {
    expect(allowsRestart([], 0, { maxRestarts: 0, windowMs: 1_000 })).toBe(false);
  });

  it('property: following allowsRestart never puts more than MaxR restarts in any window', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 40 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 20_000 }), (gaps, maxRestarts, windowMs) => {
        const budget = { maxRestarts, windowMs };
        let history: number[] = [];
        const restarts: number[] = [];
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          if (!allowsRestart(history, now, budget)) continue;
          history = recordRestart(history, now, budget);
          restarts.push(now);
        }
        for (const t of restarts) expect(restarts.filter((u) => u > t - windowMs && u <= t).length).toBeLessThanOrEqual(maxRestarts);
      }),
    );
  });
});
