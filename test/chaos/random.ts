/** The chaos run's one source of randomness: a seeded PRNG (mulberry32), so a seed replays the same schedule. */

export const DEFAULT_CHAOS_SEED = 20_261_122;

/** CHAOS_SEED from the environment (an integer), else the default. */
export function chaosSeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CHAOS_SEED;
  if (raw === undefined || raw === '') return DEFAULT_CHAOS_SEED;
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new Error(`CHAOS_SEED must be an integer in [0, 2^32): got "${raw}"`);
  return seed;
}

export interface ChaosRandom {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
  /** A new independent stream derived from this one (one per concern, so adding draws to one does not shift another). */
  fork(label: string): ChaosRandom;
}

export function createChaosRandom(seed: number): ChaosRandom {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const self: ChaosRandom = {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)]!;
    },
    chance: (p) => next() < p,
    fork: (label) => {
      let h = seed ^ 0x9e3779b9;
      for (const ch of label) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
      return createChaosRandom(h >>> 0);
    },
  };
  return self;
}
