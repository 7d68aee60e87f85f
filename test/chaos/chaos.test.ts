import { describe, expect, it } from 'vitest';
import { DEFAULT_CHAOS_SEED } from './random.ts';
import { runChaos } from './scenario.ts';
import { formatReport } from './summary.ts';

/**
 * The reduced chaos run of `npm test`: the real system (NATS, projector, hub, gateway,
 * connections host with the Flask child, ESP32 link, RPC poller and telemetry, RPC backend,
 * ESP32 emulator) under load; every fault once (three at a time at most) and every boundary
 * fuzzed at least once, with the fixed seed; then the checks. `npm run chaos` is the long one.
 */
describe('chaos (reduced, fixed seed)', () => {
  it('loses no record, leaves no flow hanging, projects what a replay gives, and no bad input crashes anything', async () => {
    const report = await runChaos({ seed: DEFAULT_CHAOS_SEED, durationMs: 0, fuzzPerBurst: 6, devices: 4, faultLanes: 3 });
    const summary = formatReport(report);
    process.stdout.write(`\n${summary}\n`);
    expect(report.problems, summary).toEqual([]);
    expect(report.records.duplicateMsgIds).toBe(0);
    expect(report.records.brokenIncarnations).toBe(0);
    expect(report.records.gapRecords).toBe(0);
    expect(report.flows.nonTerminal).toBe(0);
    expect(report.flows.acceptedUnfinished).toBe(0);
    expect(report.projections.buckets.every((b) => b.differing === 0)).toBe(true);
    expect(report.crashes).toEqual([]);
    expect(report.fuzz.every((t) => t.sent > 0 && t.untyped === 0)).toBe(true);
    expect(report.load.accepted).toBeGreaterThan(0);
  }, 180_000);
});
