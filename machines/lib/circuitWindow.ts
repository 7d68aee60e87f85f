/**
 * The rolling window of a circuit breaker: the outcomes of the calls made in the last
 * `windowMs`, from which the failure rate is read. Pure: the window is an immutable list
 * of `{at, ok}` the caller keeps in its context and passes back with the current time.
 */
export interface CallOutcome {
  /** When the call ended, ms since the epoch. */
  at: number;
  ok: boolean;
}

export interface CircuitWindowPolicy {
  /** The rolling window, in ms. */
  windowMs: number;
  /** The failure rate (0 … 1) at or over which the circuit opens … */
  failureRateThreshold: number;
  /** … once the window holds at least this many calls. */
  minimumCalls: number;
}

export interface WindowStats {
  calls: number;
  failures: number;
  /** failures / calls, 0 with no calls. */
  failureRate: number;
}

/** The outcomes still inside the window ending at `now`. */
export function pruneWindow(window: readonly CallOutcome[], now: number, windowMs: number): CallOutcome[] {
  return window.filter((o) => o.at > now - windowMs && o.at <= now);
}

/** The window after one more outcome (outcomes that left the window are dropped). */
export function recordOutcome(window: readonly CallOutcome[], outcome: CallOutcome, windowMs: number): CallOutcome[] {
  return [...pruneWindow(window, outcome.at, windowMs), outcome];
}

export function windowStats(window: readonly CallOutcome[], now: number, windowMs: number): WindowStats {
  const inside = pruneWindow(window, now, windowMs);
  const failures = inside.filter((o) => !o.ok).length;
  return { calls: inside.length, failures, failureRate: inside.length === 0 ? 0 : failures / inside.length };
}

/** Whether the failure rate of the window trips the circuit (only with enough calls to judge). */
export function rateTripped(window: readonly CallOutcome[], now: number, policy: CircuitWindowPolicy): boolean {
  const stats = windowStats(window, now, policy.windowMs);
  return stats.calls >= Math.max(1, policy.minimumCalls) && stats.failureRate >= policy.failureRateThreshold;
}
