import type { ChaosReport } from './scenario.ts';

/** The end-of-run summary: plain tables a person reads at a glance. */

function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
  return [line(headers), line(widths.map((w) => '─'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

export function formatReport(r: ChaosReport): string {
  const out: string[] = [];
  out.push(`Chaos run · seed ${r.seed} (CHAOS_SEED=${r.seed} replays it) · NATS ${r.topology} · faults for ${(r.chaosMs / 1000).toFixed(1)} s, settled in ${(r.settleMs / 1000).toFixed(1)} s`);
  out.push('', 'Faults (SIGKILL, then restored)');
  out.push(table(['at (s)', 'fault', 'target', 'down (ms)', 'healthy after (ms)'], r.episodes.map((e) => [(e.atMs / 1000).toFixed(1), e.fault, e.target, e.heldMs, e.recoveredMs])));
  const l = r.load;
  out.push('', 'Load');
  out.push(
    table(
      ['what', 'count'],
      [
        ['commands posted (HTTP intake)', l.posted],
        ['  accepted (202)', l.accepted],
        ['  refused (404/400)', l.refused],
        ['  NATS unavailable (503)', l.unavailable],
        ['  request errors', l.postErrors],
        ['device connections (sim)', l.deviceConnects],
        ['  connect attempts refused', l.connectFailures],
        ['devices killed mid-command', l.midCommandCrashes],
        ['WebSocket frames received', l.wsFrames],
        ['WebSocket reconnects', l.wsReconnects],
      ],
    ),
  );
  out.push('', 'Malformed input (fast-check, from the seed)');
  out.push(table(['boundary', 'sent', 'typed error', 'valid, served', 'absorbed', 'untyped'], r.fuzz.map((t) => [t.boundary, t.sent, t.typed, t.accepted, t.absorbed, t.untyped])));
  out.push(`  absorbed = no answer due (a NATS message, a radio frame); the consumer was checked alive. broadcast.error.telemetry seen: ${r.telemetryErrorsSeen}`);

  const rec = r.records;
  const rows: Array<[string, string | number, string | number, boolean]> = [
    ['transition records stored (CONN)', rec.stored, '', true],
    ['actor incarnations', rec.incarnations, '', true],
    ['Nats-Msg-Id stored twice', rec.duplicateMsgIds, 0, rec.duplicateMsgIds === 0],
    ['records without their msg id', rec.wrongMsgIds, 0, rec.wrongMsgIds === 0],
    ['incarnations not 1..n (seq holes: ' + rec.holes + ')', rec.brokenIncarnations, 0, rec.brokenIncarnations === 0],
    ['incarnations stored out of seq order (warn)', rec.outOfOrder, 0, true],
    ['outbox gap records (accounted loss)', rec.gapRecords, 0, rec.gapRecords === 0],
    ...rec.producedVsStored.map((p): [string, string | number, string | number, boolean] => [`produced → stored: ${p.producer}`, `${p.produced} → ${p.stored}`, 'equal', p.produced === p.stored]),
    ['telemetry samples acked → stored', `${r.telemetry.published} → ${r.telemetry.stored}`, 'equal', r.telemetry.published === r.telemetry.stored && r.telemetry.duplicates === 0],
    ['flows left non-terminal', r.flows.nonTerminal, 0, r.flows.nonTerminal === 0],
    [`accepted commands unfinished (of ${r.flows.accepted})`, r.flows.acceptedUnfinished, 0, r.flows.acceptedUnfinished === 0],
    ['projection keys ≠ replay', r.projections.buckets.reduce((s, b) => s + b.differing, 0), 0, r.projections.problems.length === 0],
    ['processes crashed (not killed by us)', r.crashes.length, 0, r.crashes.length === 0],
    ['bad inputs without a typed error', r.fuzz.reduce((s, t) => s + t.untyped, 0), 0, r.fuzz.every((t) => t.untyped === 0)],
    ['NATS nodes down at the end', r.natsRunning ? 0 : 1, 0, r.natsRunning],
  ];
  out.push('', 'Checks');
  out.push(table(['check', 'seen', 'expected', 'ok'], rows.map(([a, b, c, ok]) => [a, b, c, ok ? 'ok' : 'FAIL'])));
  for (const e of rec.outOfOrderExamples) out.push(`  out of order (no loss, no duplicate; projections are version-guarded): ${e}`);
  out.push(`  flows by status: ${Object.entries(r.flows.byStatus).map(([k, v]) => `${k} ${v}`).join(', ')}; failed by code: ${Object.entries(r.flows.failedByCode).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out.push(`  projections: ${r.projections.buckets.map((b) => `${b.bucket} ${b.projected}${b.differing ? ` (${b.differing} differ)` : ''}`).join(', ')}`);
  out.push('', r.problems.length === 0 ? 'RESULT: ok — every check passed' : `RESULT: FAIL — ${r.problems.length} problem(s):\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
  return out.join('\n');
}
