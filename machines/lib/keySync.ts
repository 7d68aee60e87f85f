/**
 * Public-key sync of a Meshtastic link, pure: the radio's node database (as delivered by
 * one complete handshake) is reconciled with the link's key store, node by node.
 *
 * Rules, per node:
 *   - the radio reports no key            → keep the stored key           (`kept`, or `none`)
 *   - the reported key is not 32 bytes    → refuse it, keep the stored key (`rejected`)
 *   - no stored key yet                   → store it                      (`added`)
 *   - same key as stored                  → nothing to do                 (`skipped`)
 *   - a different key                     → keep the stored key, flag the node and note
 *                                           the reported key              (`changed`)
 * A changed key is never accepted silently: someone has to look at it.
 */

/** One node of the radio's database, as the link keeps it. */
export interface MeshNode {
  num: number;
  /** `!` + 8 hex digits (User.id), derived from `num` when the radio sent no user. */
  id: string;
  longName: string;
  shortName: string;
  hwModel: number;
  /** The public key the radio reported (base64), null when it reported none. */
  publicKey: string | null;
  /** Seconds since the epoch (NodeInfo.last_heard); 0 when never heard. */
  lastHeard: number;
}

/** The key store's entry for one node. */
export interface StoredKey {
  /** The accepted 32-byte key, base64. */
  publicKey: string;
  /** The radio reported a different key: not accepted, waiting for an operator. */
  keyChanged: boolean;
  /** That different key (base64) while `keyChanged`. */
  reportedKey: string | null;
}

/** Key store: node number (decimal) → stored key. */
export type KeyStore = Record<string, StoredKey>;

export type KeyOutcome = 'added' | 'skipped' | 'changed' | 'kept' | 'rejected' | 'none';

export const PUBLIC_KEY_BYTES = 32;

export interface KeyDecision {
  num: number;
  outcome: KeyOutcome;
  /** The store entry after the decision (the same object when nothing changed). */
  next: StoredKey | undefined;
}

export type KeySyncCounts = Record<KeyOutcome, number> & { total: number };

export interface KeySyncResult {
  counts: KeySyncCounts;
  /** Store entries that changed, by node number: apply them over the store. */
  updates: KeyStore;
  /** Nodes whose reported key differs from the stored one. */
  flagged: number[];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Bytes encoded by a padded base64 string; null when it is not base64. */
export function base64ByteLength(text: string): number | null {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return null;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

export function decideKey(node: MeshNode, stored: StoredKey | undefined): KeyDecision {
  const reported = node.publicKey;
  const decision = (outcome: KeyOutcome, next: StoredKey | undefined): KeyDecision => ({ num: node.num, outcome, next });
  if (reported === null || reported === '') return decision(stored ? 'kept' : 'none', stored);
  if (base64ByteLength(reported) !== PUBLIC_KEY_BYTES) return decision('rejected', stored);
  if (!stored) return decision('added', { publicKey: reported, keyChanged: false, reportedKey: null });
  if (reported === stored.publicKey) return decision('skipped', stored);
  if (stored.keyChanged && stored.reportedKey === reported) return decision('changed', stored);
  return decision('changed', { ...stored, keyChanged: true, reportedKey: reported });
}

export function emptyCounts(): KeySyncCounts {
  return { total: 0, added: 0, skipped: 0, changed: 0, kept: 0, rejected: 0, none: 0 };
}

/** Incremental reconciliation, so a caller can spread a large database over several ticks. */
export interface KeyReconciler {
  add(node: MeshNode): KeyDecision;
  result(): KeySyncResult;
}

export function createKeyReconciler(store: KeyStore): KeyReconciler {
  const counts = emptyCounts();
  const updates: KeyStore = {};
  const flagged: number[] = [];
  return {
    add(node) {
      const stored = store[String(node.num)];
      const d = decideKey(node, stored);
      counts.total += 1;
      counts[d.outcome] += 1;
      if (d.outcome === 'changed') flagged.push(node.num);
      if (d.next && d.next !== stored) updates[String(node.num)] = d.next;
      return d;
    },
    result: () => ({ counts: { ...counts }, updates: { ...updates }, flagged: [...flagged] }),
  };
}

/** Reconciles a whole node database at once. */
export function reconcileKeys(nodes: Iterable<MeshNode>, store: KeyStore): KeySyncResult {
  const reconciler = createKeyReconciler(store);
  for (const node of nodes) reconciler.add(node);
  return reconciler.result();
}

/** The node's id as the firmware writes it: `!` and eight lowercase hex digits. */
export function nodeIdOf(num: number): string {
  return `!${(num >>> 0).toString(16).padStart(8, '0')}`;
}
