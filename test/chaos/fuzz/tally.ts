/** How each malformed input was answered, per boundary. */
export type FuzzOutcome =
  /** A typed error came back (an error code in the protocol's own shape). */
  | 'typed'
  /** The input happened to be valid and was served normally. */
  | 'accepted'
  /** Fire-and-forget (a NATS message, a radio frame): no answer is due; the consumer was checked alive afterwards. */
  | 'absorbed'
  /** No typed answer: a crash, a hang, a 500, a socket closed without a code. The checks want 0. */
  | 'untyped';

export interface FuzzTally {
  boundary: string;
  sent: number;
  typed: number;
  accepted: number;
  absorbed: number;
  untyped: number;
  /** The first few untyped cases, for the report. */
  examples: string[];
}

export function emptyTally(boundary: string): FuzzTally {
  return { boundary, sent: 0, typed: 0, accepted: 0, absorbed: 0, untyped: 0, examples: [] };
}

export function count(tally: FuzzTally, outcome: FuzzOutcome, describe?: () => string): void {
  tally.sent += 1;
  tally[outcome] += 1;
  if (outcome === 'untyped' && tally.examples.length < 5 && describe) tally.examples.push(describe());
}

/** A short printable form of an input. */
export function preview(input: string | Uint8Array, max = 80): string {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('hex');
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…(${text.length})` : text);
}
