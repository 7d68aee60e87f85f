/** A ring of the last `capacity` lines of a stream (stderr), fed chunk by chunk. */
export interface LineRing {
  /** Feeds a chunk; returns the complete lines it finished (for logging). */
  push(chunk: Buffer | string): string[];
  /** The kept lines, oldest first, including an unfinished last line. */
  lines(): string[];
}

const MAX_LINE = 4_096;

export function createLineRing(capacity: number): LineRing {
  const ring: string[] = [];
  let partial = '';
  const keep = (line: string): void => {
    ring.push(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line);
    if (ring.length > capacity) ring.splice(0, ring.length - capacity);
  };
  return {
    push(chunk) {
      const parts = (partial + chunk.toString()).split(/\r?\n/);
      partial = parts.pop() ?? '';
      if (partial.length > MAX_LINE) {
        parts.push(partial);
        partial = '';
      }
      const done = parts.filter((l) => l.trim() !== '');
      done.forEach(keep);
      return done;
    },
    lines: () => (partial.trim() !== '' ? [...ring, partial].slice(-capacity) : [...ring]),
  };
}
