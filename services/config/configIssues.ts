import type { z } from 'zod';

/**
 * Zod issues of a configuration, one readable line each, naming the field the way a
 * person finds it in the file: `pollers[0].intervalMs: expected a number > 0`. An unknown
 * key is named with the key itself (`links[0].silentTimeout: unknown option; did you mean
 * silentTimeoutMs?`). `label` renames a field (the env var or flag it came from).
 */
export function formatConfigIssues(
  error: z.ZodError,
  options: { knownKeys?: (path: ReadonlyArray<PropertyKey>) => string[]; label?: (path: ReadonlyArray<PropertyKey>) => string } = {},
): string[] {
  const label = options.label ?? fieldPath;
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = options.knownKeys?.(issue.path) ?? [];
      for (const key of issue.keys) {
        const guess = closest(key, known);
        lines.push(`${label([...issue.path, key])}: unknown option${guess ? `; did you mean ${guess}?` : known.length ? ` (options: ${known.join(', ')})` : ''}`);
      }
      continue;
    }
    const where = label(issue.path);
    lines.push(`${where || '(top level)'}: ${describeIssue(issue)}`);
  }
  return lines;
}

/** `["pollers", 0, "intervalMs"]` → `pollers[0].intervalMs`. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

const NOUN: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  array: 'an array',
  object: 'an object',
  record: 'an object',
};

function bound(issue: { minimum?: unknown; maximum?: unknown; inclusive?: boolean }, min: boolean): string {
  const value = String(min ? issue.minimum : issue.maximum);
  if (min) return issue.inclusive ? `≥ ${value}` : `> ${value}`;
  return issue.inclusive ? `≤ ${value}` : `< ${value}`;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      const received = /received (\w+)/.exec(issue.message)?.[1];
      if (issue.expected === 'int' && received === 'number') return 'expected an integer';
      if (received === 'undefined') return `required (${NOUN[issue.expected] ?? issue.expected})`;
      if (received === 'NaN') return `expected ${NOUN[issue.expected] ?? issue.expected}`;
      return `expected ${NOUN[issue.expected] ?? issue.expected}${received ? `, got ${received}` : ''}`;
    }
    case 'too_small':
    case 'too_big': {
      const min = issue.code === 'too_small';
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        return `expected a number ${bound(issue, min)}`;
      }
      const limit = Number(min ? issue.minimum : issue.maximum);
      const unit = issue.origin === 'string' ? 'character' : 'item';
      return `expected ${min ? 'at least' : 'at most'} ${limit} ${unit}${limit === 1 ? '' : 's'}`;
    }
    case 'invalid_format':
      return issue.format === 'url' ? 'expected an http or https URL' : issue.message;
    case 'invalid_union':
      return issue.message === 'Invalid input' ? 'matches none of the accepted forms' : issue.message;
    default:
      return issue.message;
  }
}

/** The known key nearest to a misspelt one (case-insensitive equality, or edit distance ≤ 3). */
function closest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of known) {
    const a = key.toLowerCase();
    const b = candidate.toLowerCase();
    const d = a === b ? 0 : b.startsWith(a) || a.startsWith(b) ? 1 : editDistance(a, b);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
