/**
 * Reversible, collision-free encoding of an arbitrary id into one NATS subject token
 * (and into a valid KV key). `[A-Za-z0-9-]` pass through; every other UTF-8 byte,
 * including `_` itself, becomes `_XX` (upper-case hex). So `127.0.0.1:dev1` becomes
 * `127_2E0_2E0_2E1_3Adev1`. A lone UTF-16 surrogate (which `JSON.parse('"\\ud800"')`
 * can produce, but UTF-8 cannot encode) takes the three bytes of its code point
 * (WTF-8), so it never collides with U+FFFD. Distinct ids always give distinct tokens
 * because the encoding is a bijection onto its image (decodeToken(encodeToken(x)) === x).
 */
/** Some character of the id must be escaped. */
const NEEDS_ESCAPE = /[^A-Za-z0-9-]/;

const isPlain = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d;

export class InvalidTokenError extends Error {
  readonly code = 'INVALID_TOKEN';
}

const hex = (byte: number): string => '_' + byte.toString(16).toUpperCase().padStart(2, '0');

/** Recent encodings: the same few ids (devices, actors, flow nodes) are encoded over and over. */
const recent = new Map<string, string>();
const RECENT_MAX = 10_000;

export function encodeToken(id: string): string {
  if (id.length === 0) throw new InvalidTokenError('an id must not be empty');
  // every key and subject of every record passes here: the common cases stay cheap
  if (!NEEDS_ESCAPE.test(id)) return id;
  let out = recent.get(id);
  if (out !== undefined) return out;
  out = escapeToken(id);
  if (recent.size >= RECENT_MAX) recent.clear();
  recent.set(id, out);
  return out;
}

function escapeToken(id: string): string {
  let out = '';
  for (const char of id) {
    if (char.length === 1 && isPlain(char.charCodeAt(0))) {
      out += char;
      continue;
    }
    const cp = char.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      // a lone surrogate (a paired one is iterated as one astral code point)
      out += hex(0xe0 | (cp >> 12)) + hex(0x80 | ((cp >> 6) & 0x3f)) + hex(0x80 | (cp & 0x3f));
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) out += hex(byte);
  }
  return out;
}

/** UTF-8 (surrogate code points allowed, as encodeToken writes them) → string; throws on a malformed sequence. */
function decodeBytes(bytes: number[], token: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i]!;
    const length = lead < 0x80 ? 1 : lead >= 0xc0 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf8 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) throw new InvalidTokenError(`not an encoded token: ${JSON.stringify(token)}`);
    let cp = length === 1 ? lead : lead & (0xff >> (length + 1));
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k]!;
      if ((next & 0xc0) !== 0x80) throw new InvalidTokenError(`not an encoded token: ${JSON.stringify(token)}`);
      cp = (cp << 6) | (next & 0x3f);
    }
    if (cp > 0x10ffff) throw new InvalidTokenError(`not an encoded token: ${JSON.stringify(token)}`);
    out += String.fromCodePoint(cp);
    i += length;
  }
  return out;
}

export function decodeToken(token: string): string {
  if (!/^(?:[A-Za-z0-9-]|_[0-9A-F]{2})+$/.test(token)) {
    throw new InvalidTokenError(`not an encoded token: ${JSON.stringify(token)}`);
  }
  const bytes: number[] = [];
  for (let i = 0; i < token.length; ) {
    if (token[i] === '_') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(token.charCodeAt(i));
      i += 1;
    }
  }
  // overlong forms, surrogate pairs spelled as two 3-byte sequences and escaped plain
  // characters all decode to something that encodes differently: not canonical
  const decoded = decodeBytes(bytes, token);
  if (encodeToken(decoded) !== token) throw new InvalidTokenError(`not a canonical token: ${JSON.stringify(token)}`);
  return decoded;
}
