const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export interface LineSplitterOptions {
  /** Longest accepted line in bytes, `\r\n`/`\n` excluded. Longer lines are dropped whole. */
  maxLineBytes: number;
  onLine(line: string): void;
  /** Called once per dropped line, with the number of bytes seen before giving up. */
  onOversized?(bytesSeen: number): void;
}

/**
 * Splits a byte stream into UTF-8 lines. Splitting happens on bytes (0x0a never occurs inside
 * a multi-byte UTF-8 sequence), so a character cut in half between two chunks decodes intact.
 * Tolerates `\r\n`, skips empty lines, and never buffers more than `maxLineBytes + chunk`.
 * Holds nothing between lines: an idle connection costs no memory here.
 */
export class LineSplitter {
  readonly #opts: LineSplitterOptions;
  #parts: Buffer[] = [];
  #pendingBytes = 0;
  /** Inside an oversized line: drop bytes until the next newline. */
  #discarding = false;

  constructor(opts: LineSplitterOptions) {
    this.#opts = opts;
  }

  /** Bytes of an unfinished line currently held. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        if (start < chunk.length) this.#stash(chunk.subarray(start));
        return;
      }
      this.#finish(chunk.subarray(start, nl));
      start = nl + 1;
    }
  }

  /** Forget any unfinished line (e.g. when the connection closes). */
  reset(): void {
    this.#parts = [];
    this.#pendingBytes = 0;
    this.#discarding = false;
  }

  #stash(part: Buffer): void {
    if (this.#discarding) return;
    this.#pendingBytes += part.length;
    if (this.#pendingBytes > this.#opts.maxLineBytes + 1) {
      // +1: the last byte may be the `\r` of a `\r\n` that is still to come.
      this.#opts.onOversized?.(this.#pendingBytes);
      this.#parts = [];
      this.#pendingBytes = 0;
      this.#discarding = true;
      return;
    }
    // Copy: a subarray would pin the whole (possibly 64 KiB) socket chunk in memory.
    this.#parts.push(Buffer.from(part));
  }

  #finish(tail: Buffer): void {
    if (this.#discarding) {
      this.#discarding = false;
      return;
    }
    let line = this.#parts.length === 0 ? tail : Buffer.concat([...this.#parts, tail]);
    this.#parts = [];
    this.#pendingBytes = 0;
    if (line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN) line = line.subarray(0, line.length - 1);
    if (line.length > this.#opts.maxLineBytes) {
      this.#opts.onOversized?.(line.length);
      return;
    }
    if (line.length === 0) return;
    this.#opts.onLine(line.toString('utf8'));
  }
}
