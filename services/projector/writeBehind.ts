/**
 * When the projector writes what it has already announced.
 *
 * Each batch is computed and broadcast at once (the log already holds its cause), and its
 * KV writes wait behind a gate. The gates open, all together and in order, when the inbox
 * has been quiet for `quietMs`, when the oldest closed gate has waited `maxDelayMs`, or when
 * `maxMessages` messages or `maxBatches` batches wait behind closed gates. So a burst (100
 * devices failing at once) is announced whole before its writes, their acks and the KV
 * watches they feed compete with it for the CPU; a steady stream is written as before,
 * just in larger runs; and KV never lags the broadcasts by more than `maxDelayMs`. Nothing
 * is acked before it is written, so a crash still means redelivery.
 */
export interface WriteBehindOptions {
  quietMs: number;
  maxDelayMs: number;
  maxMessages: number;
  maxBatches: number;
}

/**
 * 250 ms: under a steady stream a key (an actor, a flow) changes several times within it
 * and is written once (bench: record pipeline, ~2 writes per record → ~1); KV and the
 * hub's lists trail the broadcasts by at most that much while the projector is busy, and
 * by `quietMs` otherwise.
 */
export const DEFAULT_WRITE_BEHIND: WriteBehindOptions = { quietMs: 50, maxDelayMs: 250, maxMessages: 4_000, maxBatches: 32 };

export interface WriteBehind {
  /**
   * The gate of a batch of `messages` just staged: its writes wait until it resolves
   * true; false means they must not happen (the projector was fenced off).
   */
  gate(messages: number): Promise<boolean>;
  /** The inbox is empty: open the gates once it has stayed so for `quietMs`. */
  quiet(): void;
  /** Opens every closed gate now, with `proceed` (false: fenced, nothing is written). */
  openAll(proceed?: boolean): void;
  /** Batches behind closed gates. */
  waiting(): number;
}

export function createWriteBehind(options: WriteBehindOptions = DEFAULT_WRITE_BEHIND): WriteBehind {
  let closed: Array<(proceed: boolean) => void> = [];
  let messages = 0;
  let quietTimer: NodeJS.Timeout | undefined;
  let delayTimer: NodeJS.Timeout | undefined;

  const clearTimers = (): void => {
    clearTimeout(quietTimer);
    clearTimeout(delayTimer);
    quietTimer = undefined;
    delayTimer = undefined;
  };

  function openAll(proceed = true): void {
    clearTimers();
    const gates = closed;
    closed = [];
    messages = 0;
    for (const open of gates) open(proceed);
  }

  return {
    gate(count) {
      const gate = new Promise<boolean>((resolve) => closed.push(resolve));
      messages += count;
      // more is arriving: the inbox is not quiet
      clearTimeout(quietTimer);
      quietTimer = undefined;
      if (messages >= options.maxMessages || closed.length >= options.maxBatches) openAll();
      else delayTimer ??= setTimeout(openAll, options.maxDelayMs);
      return gate;
    },
    quiet() {
      if (closed.length > 0) quietTimer ??= setTimeout(openAll, options.quietMs);
    },
    openAll,
    waiting: () => closed.length,
  };
}
