import type { FlowEntry, FlowStatus } from '../bus/schemas/projections.ts';
import { jsonEqual } from './jsonEqual.ts';

const RANK: Record<FlowStatus, number> = { started: 0, 'in progress': 1, completed: 2, failed: 3 };

/**
 * The join of two flow entries of one node: the later command wins (by accepted_at, then
 * command_id); for the same command the further status wins, a terminal status is final
 * (failed outranks completed should both ever be claimed). Commutative, associative and
 * idempotent, so projecting in any order, or twice, gives the same entry.
 */
export function mergeFlow(a: FlowEntry | undefined, b: FlowEntry): FlowEntry {
  if (!a) return b;
  return compareFlows(a, b) >= 0 ? a : b;
}

function compareFlows(a: FlowEntry, b: FlowEntry): number {
  if (a.accepted_at !== b.accepted_at) return a.accepted_at < b.accepted_at ? -1 : 1;
  if (a.command_id !== b.command_id) return a.command_id < b.command_id ? -1 : 1;
  const rank = RANK[a.status] - RANK[b.status];
  if (rank !== 0) return rank;
  if (a.updated_at !== b.updated_at) return a.updated_at < b.updated_at ? 1 : -1; // the first to settle wins
  if (jsonEqual(a, b)) return 0;
  const ja = JSON.stringify(a);
  const jb = JSON.stringify(b);
  return ja === jb ? 0 : ja < jb ? -1 : 1;
}

export function isTerminal(status: FlowStatus): boolean {
  return status === 'completed' || status === 'failed';
}
