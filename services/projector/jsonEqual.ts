/**
 * Whether two plain JSON values are the same, with their keys in the same order: then
 * `JSON.stringify` prints them alike. Built for the projector's "did this change?" checks,
 * which ran for every key of every batch and built two strings each time. `false` may be
 * a false alarm (a key holding `undefined` on one side only): the callers either treat it
 * as a change (one write too many, harmless) or fall back to comparing the strings.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const key = ka[i]!;
    if (key !== kb[i] || !jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}
