import type { z } from 'zod';

/** A boundary message that failed its schema: a typed error, never a crash. */
export class ParseError extends Error {
  readonly code = 'INVALID_MESSAGE';
  constructor(
    readonly what: string,
    readonly issues: string,
  ) {
    super(`invalid ${what}: ${issues}`);
  }
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ParseError };

export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

export function parseWith<S extends z.ZodType>(schema: S, what: string, value: unknown): Parsed<z.infer<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, error: new ParseError(what, formatIssues(result.error)) };
}

/** Parses JSON text (or bytes) and then the schema; bad JSON is a ParseError too. */
export function parseJsonWith<S extends z.ZodType>(schema: S, what: string, text: string | Uint8Array): Parsed<z.infer<S>> {
  let value: unknown;
  try {
    value = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
  } catch (err) {
    return { ok: false, error: new ParseError(what, `not JSON (${(err as Error).message})`) };
  }
  return parseWith(schema, what, value);
}
