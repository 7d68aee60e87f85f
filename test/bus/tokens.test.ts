import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken, InvalidTokenError } from '../../services/bus/tokens.ts';

/** A valid NATS subject token and a valid NATS KV key. */
const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Any non-empty string of Unicode scalar values (every code point, astral planes included). */
const unicodeId = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  // ids as they really look: `<ipv4>:<name>`, node ids with dots, dashes and underscores
  fc.stringMatching(/^[0-9.:_A-Za-z-]{1,30}$/),
);

describe('encodeToken / decodeToken', () => {
  it('round-trips every Unicode string', () => {
    fc.assert(
      fc.property(unicodeId, (id) => {
        expect(decodeToken(encodeToken(id))).toBe(id);
      }),
      { numRuns: 2_000 },
    );
  });

  it('produces one NATS token that is also a valid KV key', () => {
    fc.assert(
      fc.property(unicodeId, (id) => {
        expect(encodeToken(id)).toMatch(TOKEN);
      }),
      { numRuns: 2_000 },
    );
  });

  it('maps distinct ids to distinct tokens', () => {
    fc.assert(
      fc.property(unicodeId, unicodeId, (a, b) => {
        fc.pre(a !== b);
        expect(encodeToken(a)).not.toBe(encodeToken(b));
      }),
      { numRuns: 2_000 },
    );
    // near misses that a naive escaping would confuse
    const tricky = ['a_2E', 'a.', 'a_', '_', '__', '_5F', '-', 'a-b', 'a_b', 'a.b', 'é', 'e\u0301', '\u00e9\u00e9', '💥', '\ufffd'];
    expect(new Set(tricky.map(encodeToken)).size).toBe(tricky.length);
  });

  it('keeps ids made of lone UTF-16 surrogates distinct (they have no UTF-8 form)', () => {
    // JSON.parse('"\\ud800"') gives such a string: a device may well announce one.
    const ids = ['\ud800', '\udfff', '\ufffd', 'a\ud83d', 'a\udca5', 'a\ud83d\udca5', '\udca5\ud83d'];
    const tokens = ids.map(encodeToken);
    expect(new Set(tokens).size).toBe(ids.length);
    for (const [i, token] of tokens.entries()) {
      expect(token).toMatch(TOKEN);
      expect(decodeToken(token)).toBe(ids[i]);
    }
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)), minLength: 1, maxLength: 12 }), (id) => {
        expect(decodeToken(encodeToken(id))).toBe(id);
      }),
      { numRuns: 2_000 },
    );
  });

  it('rejects the empty id', () => {
    expect(() => encodeToken('')).toThrow(InvalidTokenError);
  });

  it('rejects every non-canonical or malformed token', () => {
    const bad = [
      '', // empty
      'a.b', // a NATS token separator
      'a b',
      'a*',
      '>',
      '_2D', // '-' must pass through, not be escaped
      '_41', // 'A' likewise
      '_2e', // lower-case hex
      '_2', // truncated escape
      '_', // bare escape
      '_ZZ',
      '_C3', // truncated UTF-8 sequence
      '_C0_AE', // overlong encoding of '.'
      '_E0_80_AE', // overlong, 3 bytes
      '_FF', // never valid in UTF-8
      '_80', // continuation byte alone
      '_F4_90_80_80', // beyond U+10FFFF
      '_ED_A0_BD_ED_B2_A5', // a surrogate pair spelled as two 3-byte sequences (CESU-8): '💥' is _F0_9F_92_A5
    ];
    for (const token of bad) expect(() => decodeToken(token), token).toThrow(InvalidTokenError);
  });

  it('accepts a token only if it is exactly what encodeToken produces', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^(?:[A-Za-z0-9-]|_[0-9A-F]{2}){1,8}$/), (token) => {
        let decoded: string;
        try {
          decoded = decodeToken(token);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidTokenError);
          return;
        }
        expect(encodeToken(decoded)).toBe(token);
      }),
      { numRuns: 5_000 },
    );
  });
});
