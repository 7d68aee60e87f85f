import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../infra/device-sim/lineSplitter.ts';

function splitter(maxLineBytes = 64) {
  const lines: string[] = [];
  const oversized: number[] = [];
  const s = new LineSplitter({ maxLineBytes, onLine: (l) => lines.push(l), onOversized: (n) => oversized.push(n) });
  return { s, lines, oversized };
}

describe('LineSplitter', () => {
  it('joins partial lines, splits several lines per chunk, strips \\r and skips empty lines', () => {
    const { s, lines } = splitter();
    s.push(Buffer.from('ab'));
    s.push(Buffer.from('c\r\nde'));
    s.push(Buffer.from('f\n\n\r\ng\nh'));
    expect(lines).toEqual(['abc', 'def', 'g']);
    expect(s.pendingBytes).toBe(1);
  });

  it('decodes a multi-byte character cut between chunks', () => {
    const { s, lines } = splitter();
    const bytes = Buffer.from('é✓\n');
    for (const byte of bytes) s.push(Buffer.from([byte]));
    expect(lines).toEqual(['é✓']);
  });

  it('drops a line longer than the limit, whether it arrives whole or in pieces, then recovers', () => {
    const { s, lines, oversized } = splitter(8);
    s.push(Buffer.from('123456789\nok\n'));
    s.push(Buffer.from('12345'));
    s.push(Buffer.from('67890'));
    s.push(Buffer.from('more of the same line\nafter\n'));
    expect(lines).toEqual(['ok', 'after']);
    expect(oversized).toHaveLength(2);
  });

  it('keeps discarding every further piece of an oversized line until its newline', () => {
    const { s, lines, oversized } = splitter(8);
    s.push(Buffer.from('1234567890ab'));
    s.push(Buffer.from('cdef'));
    s.push(Buffer.from('ghij'));
    s.push(Buffer.from('klm\nok\n'));
    expect(lines).toEqual(['ok']);
    expect(oversized).toHaveLength(1);
  });

  it('accepts a line of exactly the limit, with or without \\r', () => {
    const { s, lines, oversized } = splitter(4);
    s.push(Buffer.from('abcd\n'));
    s.push(Buffer.from('ef'));
    s.push(Buffer.from('gh\r'));
    s.push(Buffer.from('\n'));
    expect(lines).toEqual(['abcd', 'efgh']);
    expect(oversized).toEqual([]);
  });

  it('reset() forgets an unfinished line', () => {
    const { s, lines } = splitter();
    s.push(Buffer.from('half'));
    s.reset();
    s.push(Buffer.from('whole\n'));
    expect(lines).toEqual(['whole']);
  });
});
