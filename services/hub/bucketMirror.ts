import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../log/logger.ts';

export interface BucketMirror<T> {
  get(key: string): T | undefined;
  values(): T[];
  size(): number;
  /** Applies a change the hub made itself (read-your-writes before the watch echoes it). */
  set(key: string, value: T | null): void;
  stop(): void;
}

/** How often a mirror compares the bucket's last revision with the last one its watch delivered. */
const STALL_CHECK_MS = 2_000;

/**
 * An in-memory copy of one KV bucket, kept current by a KV watch; lists are answered
 * from it instead of reading every key per request. The watch is re-established when
 * it ends (e.g. the bucket was recreated by `lifeline replay`). A watch can also stall
 * without ending: its ordered consumer lived on a cluster node that died, and the client
 * notices only after missed heartbeats (over a minute in the cluster failover test). So
 * every STALL_CHECK_MS the mirror compares the bucket's last revision with the last one
 * delivered; behind, with no progress since the previous check, it restarts the watch
 * from the revision after the last one it has (nothing is reloaded or missed).
 */
export function mirrorBucket<T>(
  nc: NatsConnection,
  bucket: string,
  parse: (value: unknown) => T | undefined,
  log: Logger,
  /** Told every change the watch delivers (value null: deleted), e.g. to forward it to dashboards. */
  onChange?: (key: string, value: T | null) => void,
): BucketMirror<T> {
  const entries = new Map<string, T>();
  let stopped = false;
  let current: { stop(): void } | undefined;
  /** The bucket as the watch loop last opened it: the stall check asks it for its status. */
  let opened: KV | undefined;
  /** The revision of the last entry the watch delivered (0: none yet). */
  let lastRevision = 0;
  /** Set when the watch is restarted because it stalled: resume after lastRevision. */
  let resume = false;

  void (async () => {
    while (!stopped) {
      try {
        const kv = await new Kvm(nc).open(bucket);
        opened = kv;
        const resuming = resume && lastRevision > 0;
        resume = false;
        const watch = await kv.watch(resuming ? { include: KvWatchInclude.AllHistory, resumeFromRevision: lastRevision + 1 } : {});
        current = watch;
        if (!resuming) {
          entries.clear();
          lastRevision = 0;
        }
        for await (const e of watch) {
          lastRevision = Math.max(lastRevision, e.revision);
          if (e.operation === 'PUT') {
            const value = parse(e.json());
            if (value !== undefined) {
              entries.set(e.key, value);
              onChange?.(e.key, value);
            } else log.warn({ bucket, key: e.key }, 'projection entry ignored: it does not parse');
          } else {
            entries.delete(e.key);
            onChange?.(e.key, null);
          }
        }
      } catch (err) {
        if (!stopped) log.warn({ bucket, err: (err as Error).message }, 'bucket watch failed; retrying');
      }
      if (!stopped && !resume) await new Promise((r) => setTimeout(r, 500));
    }
  })();

  let seenAtLastCheck = -1;
  const stallCheck = setInterval(() => {
    const kv = opened;
    if (nc.isClosed() || !current || !kv) return;
    void (async () => {
      const last = (await kv.status()).streamInfo.state.last_seq;
      const stalled = last > lastRevision && lastRevision === seenAtLastCheck;
      seenAtLastCheck = lastRevision;
      if (!stalled || stopped) return;
      log.warn({ bucket, delivered: lastRevision, last }, 'bucket watch stalled behind the bucket; resuming it from the last revision delivered');
      resume = true;
      current?.stop();
    })().catch(() => undefined);
  }, STALL_CHECK_MS);
  stallCheck.unref();

  return {
    get: (key) => entries.get(key),
    values: () => [...entries.values()],
    size: () => entries.size,
    set: (key, value) => (value === null ? entries.delete(key) : entries.set(key, value)),
    stop: () => {
      stopped = true;
      clearInterval(stallCheck);
      current?.stop();
    },
  };
}
