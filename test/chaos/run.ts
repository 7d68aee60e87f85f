/**
 * `npm run chaos`: the long chaos run against the real system, then the summary table.
 *   CHAOS_SEED=<n>          replay one run's schedule and inputs (default printed at the start)
 *   CHAOS_DURATION_MS=<ms>  how long faults keep coming (default 150000)
 *   CHAOS_TOPOLOGY=cluster|single-node  NATS as a 3-node cluster (default; one node is SIGKILLed) or one server
 *   CHAOS_KEEP_DATA=1       keep the data directory (JetStream store, logs) for a post-mortem
 * Exits 1 when a check fails.
 */
// the harness's own log lines (launchers, reconnects of its fuzz connections): off unless asked for;
// the run's own progress lines and the summary are what it prints
process.env.LIFELINE_LOG_LEVEL ??= 'silent';
const { chaosSeed } = await import('./random.ts');
const { runChaos } = await import('./scenario.ts');
const { topologyKind } = await import('./natsTopology.ts');
const { formatReport } = await import('./summary.ts');

const durationMs = Number(process.env.CHAOS_DURATION_MS ?? 150_000);
if (!Number.isFinite(durationMs) || durationMs < 0) {
  process.stderr.write(`CHAOS_DURATION_MS must be a number of milliseconds: got "${process.env.CHAOS_DURATION_MS}"\n`);
  process.exit(2);
}
const report = await runChaos({ seed: chaosSeed(), durationMs, topology: topologyKind('cluster'), log: (line) => process.stdout.write(`${line}\n`) });
process.stdout.write(`\n${formatReport(report)}\n`);
process.exit(report.problems.length === 0 ? 0 : 1);
