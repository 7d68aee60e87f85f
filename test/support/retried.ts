export interface RetryOptions {
  /** Calls in all, the first included. */
  attempts: number;
  /** The pause before attempt `n + 1` after attempt `n` failed. */
  delayMs: (attempt: number) => number;
  /** Which errors are worth another attempt (default: every one). */
  retryOn?: (err: unknown) => boolean;
}

/** `read()`, called again after a failure that `retryOn` accepts, `attempts` times at most. */
export async function retried<T>(read: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt >= options.attempts || !(options.retryOn?.(err) ?? true)) throw err;
      await new Promise((r) => setTimeout(r, options.delayMs(attempt)));
    }
  }
}
