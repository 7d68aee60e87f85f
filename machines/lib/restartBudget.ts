/**
 * Restart intensity as in Erlang/OTP supervisors: at most `maxRestarts` (MaxR) restarts
 * within any `windowMs` (MaxT). A failure that would need one restart more escalates
 * instead of restarting. Pure: the history is a list of restart times the caller keeps.
 */
export interface RestartIntensity {
  /** MaxR: restarts allowed within the window; 0 means never restart. */
  maxRestarts: number;
  /** MaxT: the sliding window, in ms. */
  windowMs: number;
}

/** The restart times of `history` that are still inside the window ending at `now`. */
export function restartsInWindow(history: readonly number[], now: number, windowMs: number): number[] {
  return history.filter((at) => at > now - windowMs && at <= now);
}

/** Whether one more restart at `now` keeps within MaxR restarts in MaxT. */
export function allowsRestart(history: readonly number[], now: number, intensity: RestartIntensity): boolean {
  return restartsInWindow(history, now, intensity.windowMs).length < intensity.maxRestarts;
}

/** The history after a restart at `now` (times that left the window are dropped). */
export function recordRestart(history: readonly number[], now: number, intensity: RestartIntensity): number[] {
  return [...restartsInWindow(history, now, intensity.windowMs), now];
}
