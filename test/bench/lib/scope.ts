/**
 * What a benchmark started, to be stopped in reverse order whatever happens: every
 * `start` is followed by `scope.defer(...)`, and the benchmark's `finally` calls `close()`.
 */
export class Scope {
  readonly #cleanups: Array<{ what: string; fn: () => unknown }> = [];
  #closed = false;

  defer(what: string, fn: () => unknown): void {
    if (this.#closed) throw new Error(`scope closed: cannot defer ${what}`);
    this.#cleanups.push({ what, fn });
  }

  /** Runs every cleanup, latest first, each bounded by `timeoutMs`; never throws. */
  async close(timeoutMs = 20_000): Promise<string[]> {
    this.#closed = true;
    const problems: string[] = [];
    while (this.#cleanups.length > 0) {
      const { what, fn } = this.#cleanups.pop()!;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(fn),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not finish within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
      } catch (err) {
        problems.push(`${what}: ${(err as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
    }
    return problems;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it is truthy; throws after `timeoutMs` naming `what`. */
export async function waitUntil<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs: number,
  intervalMs = 50,
  progress?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = progress ? ` (${progress()})` : lastError ? `: ${(lastError as Error).message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight; stops at the first error. */
export async function mapBounded<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failed !== undefined) throw failed;
  return results;
}
