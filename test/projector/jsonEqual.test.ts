import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonEqual } from '../../services/projector/jsonEqual.ts';

describe('jsonEqual', () => {
  it('holds for a JSON value and its round trip through JSON text', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => jsonEqual(v, JSON.parse(JSON.stringify(v)))));
  });

  it('never says equal where JSON.stringify prints differently', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        if (jsonEqual(a, b)) expect(JSON.stringify(a)).toBe(JSON.stringify(b));
      }),
    );
  });

  it('tells apart values that differ in one leaf, one key or key order', () => {
    expect(jsonEqual({ a: 1, b: [1, 2] }, { a: 1, b: [1, 3] })).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual({ a: { b: 'x' } }, { a: { b: 'x' } })).toBe(true);
  });
});
