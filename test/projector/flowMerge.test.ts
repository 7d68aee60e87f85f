import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLOW_STATUSES, flowEntrySchema, type FlowEntry } from '../../services/bus/schemas/projections.ts';
import { isTerminal, mergeFlow } from '../../services/projector/flowMerge.ts';

// Small pools so that generated entries often share a command, a time or a status:
// the interesting cases are the ties.
const time = fc.constantFrom('2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.001Z', '2025-01-01T00:00:01.000Z', '2025-01-02T00:00:00.000Z');
const errorEvent = fc.record({
  code: fc.constantFrom('SOCKET_RESET', 'NO_ACK', 'DEVICE_REPORTED_FAILURE', 'RESULT_TIMEOUT'),
  message: fc.constantFrom('boom', 'no ack', ''),
  component: fc.constant('device-socket'),
  severity: fc.constantFrom('warning' as const, 'error' as const, 'critical' as const),
  timestamp: time,
  retryable: fc.boolean(),
});

/** One command to one node: what every entry of the same command shares. */
const command = fc.record({
  node_id: fc.constantFrom('n1', 'node-2'),
  command_id: fc.constantFrom('c-1', 'c-2', 'c-3'),
  device_id: fc.constantFrom('127.0.0.1:d1', '127.0.0.1:d2'),
  accepted_at: time,
});

function entryOf(cmd: fc.Arbitrary<{ node_id: string; command_id: string; device_id: string; accepted_at: string }>): fc.Arbitrary<FlowEntry> {
  return fc
    .tuple(cmd, fc.constantFrom(...FLOW_STATUSES), time, fc.option(errorEvent, { nil: undefined }))
    .map(([c, status, updated_at, error]) => {
      const entry: FlowEntry = { ...c, status, updated_at };
      if (error && status === 'failed') entry.error = error;
      return entry;
    });
}

const flowEntry = entryOf(command);

/** Entries of one and the same command (as the log reports it at several points of its life). */
const sameCommandEntries = command.chain((c) => fc.array(entryOf(fc.constant(c)), { minLength: 1, maxLength: 8 }));

const fold = (entries: FlowEntry[]): FlowEntry | undefined => entries.reduce<FlowEntry | undefined>((acc, e) => mergeFlow(acc, e), undefined);

describe('mergeFlow', () => {
  it('generates valid flow entries', () => {
    fc.assert(
      fc.property(flowEntry, (e) => {
        expect(flowEntrySchema.safeParse(e).success).toBe(true);
      }),
    );
  });

  it('is commutative', () => {
    fc.assert(
      fc.property(flowEntry, flowEntry, (a, b) => {
        expect(mergeFlow(a, b)).toEqual(mergeFlow(b, a));
      }),
      { numRuns: 5_000 },
    );
  });

  it('is associative', () => {
    fc.assert(
      fc.property(flowEntry, flowEntry, flowEntry, (a, b, c) => {
        expect(mergeFlow(mergeFlow(a, b), c)).toEqual(mergeFlow(a, mergeFlow(b, c)));
      }),
      { numRuns: 5_000 },
    );
  });

  it('is idempotent, also when an entry comes back after others (redelivery)', () => {
    fc.assert(
      fc.property(flowEntry, flowEntry, (a, b) => {
        expect(mergeFlow(a, a)).toEqual(a);
        const ab = mergeFlow(a, b);
        expect(mergeFlow(ab, a)).toEqual(ab);
        expect(mergeFlow(ab, b)).toEqual(ab);
      }),
      { numRuns: 5_000 },
    );
  });

  it('an empty projection takes the entry as it is', () => {
    fc.assert(
      fc.property(flowEntry, (a) => {
        expect(mergeFlow(undefined, a)).toBe(a);
      }),
    );
  });

  it('always returns one of its inputs', () => {
    fc.assert(
      fc.property(flowEntry, flowEntry, (a, b) => {
        const m = mergeFlow(a, b);
        expect(m === a || m === b).toBe(true);
      }),
    );
  });

  it('gives the same entry whatever order the log is projected in, with duplicates', () => {
    fc.assert(
      fc.property(
        fc.array(flowEntry, { minLength: 1, maxLength: 12 }).chain((entries) =>
          fc.tuple(fc.constant(entries), fc.shuffledSubarray([...entries, ...entries], { minLength: entries.length * 2, maxLength: entries.length * 2 })),
        ),
        ([entries, shuffledWithDuplicates]) => {
          expect(fold(shuffledWithDuplicates)).toEqual(fold(entries));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('never replaces a terminal status of a command by a non-terminal one', () => {
    fc.assert(
      fc.property(sameCommandEntries, fc.nat(), (entries, seed) => {
        const merged = fold(entries)!;
        const terminal = entries.filter((e) => isTerminal(e.status));
        if (terminal.length > 0) {
          expect(isTerminal(merged.status)).toBe(true);
          // failed outranks completed should both ever be claimed
          expect(merged.status).toBe(terminal.some((e) => e.status === 'failed') ? 'failed' : 'completed');
        }
        // and once terminal, no later non-terminal report changes it
        const t = terminal[seed % Math.max(1, terminal.length)];
        if (t) {
          for (const e of entries) {
            if (!isTerminal(e.status)) expect(mergeFlow(t, e)).toBe(t);
            expect(isTerminal(mergeFlow(t, e).status)).toBe(true);
          }
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it('a later command to the same node wins over any status of an earlier one', () => {
    fc.assert(
      fc.property(flowEntry, flowEntry, (a, b) => {
        fc.pre(a.accepted_at !== b.accepted_at);
        const later = a.accepted_at > b.accepted_at ? a : b;
        expect(mergeFlow(a, b)).toBe(later);
      }),
    );
  });

  it('status only moves forward for one command: started < in progress < completed < failed', () => {
    fc.assert(
      fc.property(sameCommandEntries, (entries) => {
        const merged = fold(entries)!;
        const rank = (e: FlowEntry): number => FLOW_STATUSES.indexOf(e.status);
        expect(rank(merged)).toBe(Math.max(...entries.map(rank)));
      }),
    );
  });
});
