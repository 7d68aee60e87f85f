/**
 * Reversible, collision-free encoding of an arbitrary id into one NATS subject token
 * (and into a valid KV key). `[A-Za-z0-9-]` pass through; every other UTF-8 byte,
 * including `_` itself, becomes `_XX` (upper-case hex). So `127.0.0.1:dev1` becomes
 * `127_2E0_2E0_2E1_3Adev1`. Distinct ids always give distinct tokens because the
 * encoding is a bijection onto its image (decodeToken(encodeToken(x)) === x).
 */
const PLAIN = /^[A-Za-z0-9-]$/;

export class InvalidTokenError extends Error {
  readonly code = 'INVALID_TOKEN';
}

export function encodeToken(id: string): string {
  if (id.length === 0) throw new InvalidTokenError('an id must not be empty');
  let out = '';
  for (const char of id) {
    if (PLAIN.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) out += '_' + byte.toString(16).toUpperCase().padStart(2, '0');
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
  const decoded = Buffer.from(bytes).toString('utf8');
  if (encodeToken(decoded) !== token) throw new InvalidTokenError(`not a canonical token: ${JSON.stringify(token)}`);
  return decoded;
}
