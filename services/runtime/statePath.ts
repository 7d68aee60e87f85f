import type { StateValue } from 'xstate';

/**
 * Dotted state path(s) of a snapshot value: `connected.busy`; parallel regions are
 * listed in document order and joined by ',' (`ready.synced,ready.heartbeat.idle` style).
 */
export function statePath(value: StateValue): string {
  return leafPaths(value).join(',');
}

function leafPaths(value: StateValue, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix + value];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    if (child === undefined) continue;
    if (typeof child === 'string') out.push(`${prefix}${key}.${child}`);
    else if (Object.keys(child).length === 0) out.push(prefix + key);
    else out.push(...leafPaths(child, `${prefix}${key}.`));
  }
  return out;
}

/** The top-level state name: the last token of a `conn.<kind>.<token>.<state>` subject. */
export function topLevelState(path: string): string {
  return path.split(/[.,]/)[0] ?? path;
}
