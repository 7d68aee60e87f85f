import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64ByteLength, decideKey, nodeIdOf, reconcileKeys, type KeyStore, type MeshNode, type StoredKey } from '../../machines/lib/keySync.ts';

const b64 = (bytes: number, fill = 1): string => Buffer.alloc(bytes, fill).toString('base64');
const node = (num: number, publicKey: string | null): MeshNode => ({ num, id: nodeIdOf(num), longName: '', shortName: '', hwModel: 0, publicKey, lastHeard: 0 });
const stored = (publicKey: string, extra: Partial<StoredKey> = {}): StoredKey => ({ publicKey, keyChanged: false, reportedKey: null, ...extra });

describe('decideKey', () => {
  it.each([
    ['no key reported, none stored', null, undefined, 'none'],
    ['no key reported, one stored: kept', null, stored(b64(32)), 'kept'],
    ['empty key reported: kept', '', stored(b64(32)), 'kept'],
    ['16-byte key: rejected', b64(16), undefined, 'rejected'],
    ['33-byte key: rejected, stored one kept', b64(33), stored(b64(32)), 'rejected'],
    ['not base64: rejected', '!!!!', undefined, 'rejected'],
    ['new 32-byte key: added', b64(32), undefined, 'added'],
    ['same key: skipped', b64(32), stored(b64(32)), 'skipped'],
    ['different key: changed', b64(32, 2), stored(b64(32)), 'changed'],
  ] as const)('%s', (_, reported, current, outcome) => {
    const d = decideKey(node(1, reported), current);
    expect(d.outcome).toBe(outcome);
    if (outcome === 'added') expect(d.next).toEqual(stored(reported!));
    else if (outcome === 'changed') expect(d.next).toEqual({ ...current, keyChanged: true, reportedKey: reported });
    else expect(d.next).toBe(current); // untouched, same object
  });

  it('a changed key stays flagged (not re-flagged as a new change) while the radio keeps reporting it', () => {
    const flagged = stored(b64(32), { keyChanged: true, reportedKey: b64(32, 2) });
    const d = decideKey(node(1, b64(32, 2)), flagged);
    expect(d).toEqual({ num: 1, outcome: 'changed', next: flagged });
  });

  it('never overwrites a stored key with a different one (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }), (storedBytes, reported) => {
        const s = stored(Buffer.from(storedBytes).toString('base64'));
        const d = decideKey(node(9, reported === null ? null : Buffer.from(reported).toString('base64')), s);
        expect(d.next?.publicKey).toBe(s.publicKey);
      }),
    );
  });
});

describe('reconcileKeys', () => {
  it('counts every outcome, returns only the entries that changed and the flagged nodes', () => {
    const store: KeyStore = { '1': stored(b64(32, 1)), '2': stored(b64(32, 2)), '3': stored(b64(32, 3)) };
    const result = reconcileKeys([node(1, b64(32, 1)), node(2, b64(32, 9)), node(3, null), node(4, b64(32, 4)), node(5, b64(8))], store);
    expect(result.counts).toEqual({ total: 5, added: 1, skipped: 1, changed: 1, kept: 1, rejected: 1, none: 0 });
    expect(Object.keys(result.updates).sort()).toEqual(['2', '4']);
    expect(result.flagged).toEqual([2]);
    expect(store['2']).toEqual(stored(b64(32, 2))); // the input store is not mutated
  });
});

describe('base64ByteLength', () => {
  it('agrees with Buffer for every padded base64 string, null for anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(base64ByteLength(Buffer.from(bytes).toString('base64'))).toBe(bytes.length);
      }));
    expect(base64ByteLength('abc')).toBeNull();
    expect(base64ByteLength('ab$=')).toBeNull();
  });
});
