import { Kvm } from '@nats-io/kv';
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

/**
 * An in-memory copy of one KV bucket, kept current by a KV watch; lists are answered
 * from it instead of reading every key per request. The watch is re-established when
 * it ends (e.g. the bucket was recreated by `lifeline replay`).
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

  void (async () => {
    while (!stopped) {
      try {
        const kv = await new Kvm(nc).open(bucket);
        const watch = await kv.watch();
        current = watch;
        entries.clear();
        for await (const e of watch) {
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
      if (!stopped) await new Promise((r) => setTimeout(r, 500));
    }
  })();

  return {
    get: (key) => entries.get(key),
    values: () => [...entries.values()],
    size: () => entries.size,
    set: (key, value) => (value === null ? entries.delete(key) : entries.set(key, value)),
    stop: () => {
      stopped = true;
      current?.stop();
    },
  };
}
