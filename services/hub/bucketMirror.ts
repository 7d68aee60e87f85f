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

/** An entry as the watch delivered it, parsed when first read. */
class Unparsed {
  constructor(readonly data: Uint8Array) {}
}

const decoder = new TextDecoder();

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
 *
 * Without `onChange`, an entry is parsed (JSON, then `parse`) when it is first read, not
 * when it arrives: in a burst most entries are overwritten or deleted before anyone asks,
 * and parsing each on arrival cost the hub more than forwarding the burst to dashboards.
 * An entry that does not parse is logged and dropped when it is read.
 */
export function mirrorBucket<T>(
  nc: NatsConnection,
  bucket: string,
  parse: (value: unknown) => T | undefined,
  log: Logger,
  /** Told every change the watch delivers (value null: deleted), e.g. to forward it to dashboards. */
  onChange?: (key: string, value: T | null) => void,
): BucketMirror<T> {
  const entries = new Map<string, T | Unparsed>();
  const parseEntry = (data: Uint8Array): T | undefined => {
    try {
      return parse(JSON.parse(decoder.decode(data)));
    } catch {
      return undefined;
    }
  };
  /** The entry, parsed now if it was not yet; one that does not parse is dropped. */
  const read = (key: string): T | undefined => {
    const entry = entries.get(key);
    if (!(entry instanceof Unparsed)) return entry;
    const value = parseEntry(entry.data);
    if (value === undefined) {
      log.warn({ bucket, key }, 'projection entry ignored: it does not parse');
      entries.delete(key);
    } else entries.set(key, value);
    return value;
  };
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
          // a put carries its JSON value and a delete or purge carries none: asking for the
          // operation decodes the entry's headers, which was a sixth of the hub's work in a burst
          if (e.value.length > 0 || e.operation === 'PUT') {
            // a copy: the delivered bytes are a view into the whole socket read they came in
            if (!onChange) entries.set(e.key, new Unparsed(e.value.slice()));
            else {
              // told at once: parsed now, and an entry that does not parse leaves the last good one
              const value = parseEntry(e.value);
              if (value !== undefined) {
                entries.set(e.key, value);
                onChange(e.key, value);
              } else log.warn({ bucket, key: e.key }, 'projection entry ignored: it does not parse');
            }
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
    get: read,
    values: () => {
      const values: T[] = [];
      for (const key of [...entries.keys()]) {
        const value = read(key);
        if (value !== undefined) values.push(value);
      }
      return values;
    },
    size: () => entries.size,
    set: (key, value) => (value === null ? entries.delete(key) : entries.set(key, value)),
    stop: () => {
      stopped = true;
      clearInterval(stallCheck);
      current?.stop();
    },
  };
}
