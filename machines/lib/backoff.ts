/**
 * Exponential backoff with jitter, for any kind that retries: the child-process restart
 * delay and health-check schedule, reconnect loops of links and pollers. Pure: the
 * random source is a parameter, so tests and machines stay deterministic.
 */
export interface BackoffPolicy {
  /** Delay before the first retry (attempt 0), in ms. */
  initialMs: number;
  /** Growth per attempt (≥ 1; 2 doubles, 1.2 adds 20 %). */
  factor: number;
  /** Upper bound of the delay before jitter, in ms. */
  maxMs: number;
  /**
   * Spread as a fraction of the delay (0 … 1): the delay is drawn uniformly from
   * [d·(1 − jitter), d·(1 + jitter)]. 0 (the default) means no jitter. Jitter is
   * applied after the cap, so retries at the cap still spread out.
   */
  jitter?: number;
}

/** A number in [0, 1), like Math.random. */
export type RandomSource = () => number;

/** The delay (ms, rounded) before retry `attempt` (0-based) under `policy`. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: RandomSource = Math.random): number {
  const n = Math.max(0, Math.floor(attempt));
  const factor = Math.max(1, policy.factor);
  const initial = Math.max(0, policy.initialMs);
  // factor ** n overflows to Infinity for large n; the cap makes that harmless
  const base = Math.min(Math.max(initial, policy.maxMs), initial * factor ** n);
  const jitter = Math.min(1, Math.max(0, policy.jitter ?? 0));
  if (jitter === 0) return Math.round(base);
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(base * (1 - jitter + 2 * jitter * r));
}

/** The undithered delays of the first `attempts` retries (for documentation and tests). */
export function backoffSchedule(policy: BackoffPolicy, attempts: number): number[] {
  return Array.from({ length: attempts }, (_, i) => backoffDelay({ ...policy, jitter: 0 }, i));
}

/**
 * "Full jitter" (AWS architecture blog): the delay is drawn uniformly from
 * [0, min(maxMs, initialMs·factor^attempt)], so many clients that lost the same server
 * spread their retries over the whole window instead of arriving together.
 */
export function fullJitterDelay(policy: Omit<BackoffPolicy, 'jitter'>, attempt: number, random: RandomSource = Math.random): number {
  const cap = backoffDelay({ ...policy, jitter: 0 }, attempt);
  return Math.round(cap * Math.min(1, Math.max(0, random())));
}
