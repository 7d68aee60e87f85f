import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { KeyStore } from '../../machines/lib/keySync.ts';
import { BUCKETS } from '../bus/subjects.ts';
import { encodeToken } from '../bus/tokens.ts';
import type { Logger } from '../log/logger.ts';
import { meshNodeEntrySchema } from '../projector/reducers/linkRecord.ts';

/**
 * The key store a link starts from: what its earlier runs recorded, as the projector
 * wrote it into `mesh_nodes` (keys `token(link).<node>`). The log stays the source of
 * truth: a replay rebuilds the same store. An entry that does not parse is skipped.
 */
export async function loadStoredKeys(nc: NatsConnection, linkId: string, logger: Logger): Promise<KeyStore> {
  const kv = await new Kvm(nc).open(BUCKETS.meshNodes);
  const store: KeyStore = {};
  let skipped = 0;
  for (const key of await listKeys(kv, `${encodeToken(linkId)}.*`, logger)) {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== 'PUT') continue;
    let raw: unknown;
    try {
      raw = entry.json();
    } catch {
      raw = undefined;
    }
    const parsed = meshNodeEntrySchema.safeParse(raw);
    if (!parsed.success) {
      skipped += 1;
      continue;
    }
    const node = parsed.data;
    if (node.public_key === null) continue;
    store[String(node.num)] = { publicKey: node.public_key, keyChanged: node.key_changed, reportedKey: node.key_changed ? node.reported_key : null };
  }
  if (skipped > 0) logger.warn({ skipped }, 'mesh_nodes entries that do not parse were left out of the key store');
  return store;
}

const LIST_ATTEMPTS = 3;
const LIST_DEADLINE_MS = 3_000;

/**
 * `kv.keys()` ends when its consumer reports nothing pending; while the projector is
 * still writing the same keys that can take until the next idle heartbeat (~30 s), so
 * each listing gets a deadline and is tried again.
 */
async function listKeys(kv: KV, filter: string, logger: Logger): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    const iterator = await kv.keys(filter);
    const keys: string[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      iterator.stop();
    }, LIST_DEADLINE_MS);
    try {
      for await (const key of iterator) keys.push(key);
    } finally {
      clearTimeout(timer);
    }
    if (!timedOut) return keys;
    if (attempt >= LIST_ATTEMPTS) throw new Error(`listing ${filter} did not finish within ${LIST_DEADLINE_MS} ms, ${LIST_ATTEMPTS} times`);
    logger.warn({ filter, attempt }, 'listing mesh_nodes keys is slow (the projector is writing them); trying again');
  }
}
