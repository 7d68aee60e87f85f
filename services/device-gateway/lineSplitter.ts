export const MAX_LINE_BYTES = 64 * 1024;

export interface LineSplitterOptions {
  maxBytes?: number;
  onLine: (line: string) => void;
  /** A line grew past `maxBytes` before its newline; no further lines are delivered. */
  onOverflow: (bytes: number) => void;
}

/**
 * Splits a byte stream into newline-terminated UTF-8 lines (a trailing `\r` is dropped),
 * holding at most `maxBytes` of an unfinished line. Small: one instance per socket.
 */
export function createLineSplitter(options: LineSplitterOptions): (chunk: Buffer) => void {
  const maxBytes = options.maxBytes ?? MAX_LINE_BYTES;
  let pending: Buffer | null = null;
  let overflowed = false;

  return (chunk: Buffer) => {
    if (overflowed) return;
    let data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl === -1) break;
      let end = nl;
      if (end > start && data[end - 1] === 0x0d) end -= 1;
      if (end - start > maxBytes) return overflow(end - start);
      if (end > start) options.onLine(data.toString('utf8', start, end));
      start = nl + 1;
      if (overflowed) return;
    }
    const rest = data.length - start;
    if (rest > maxBytes) return overflow(rest);
    if (rest > 0) pending = Buffer.from(data.subarray(start));
    data = Buffer.alloc(0);
  };

  function overflow(bytes: number): void {
    overflowed = true;
    pending = null;
    options.onOverflow(bytes);
  }
}
