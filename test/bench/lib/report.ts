import type { MachineFacts } from './machine.ts';

export const BENCH_IDS = ['failure', 'pipeline', 'memory', 'child', 'link', 'hub', 'telemetry'] as const;
export type BenchId = (typeof BENCH_IDS)[number];

export interface Figure {
  name: string;
  value: number;
  unit: string;
  decimals?: number;
  /** e.g. `< 100 ms`; only figures with a target decide pass/fail. */
  target?: string;
  pass?: boolean;
}

export interface BenchResult {
  id: BenchId;
  title: string;
  quick: boolean;
  /** What exactly is measured (markdown). */
  measures: string;
  setup: Record<string, string | number>;
  figures: Figure[];
  notes: string[];
  durationMs: number;
  machine: MachineFacts;
  /** Set when the benchmark did not complete. */
  error?: string;
}

export interface BenchOptions {
  quick: boolean;
  /** Where this benchmark may write logs (kept when BENCH_KEEP_DIRS is set). */
  log: (line: string) => void;
}

export function passed(result: BenchResult): boolean {
  if (result.error) return false;
  return result.figures.every((f) => f.pass !== false);
}

export function formatValue(f: Figure): string {
  if (!Number.isFinite(f.value)) return '—';
  const decimals = f.decimals ?? (Number.isInteger(f.value) ? 0 : 1);
  const text = f.value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  return f.unit ? `${text} ${f.unit}` : text;
}

function verdict(result: BenchResult): string {
  if (result.error) return 'ERROR';
  return passed(result) ? 'PASS' : 'FAIL';
}

function machineLine(m: MachineFacts): string {
  return `Node ${m.node} · nproc ${m.nproc} · ${m.cpuModel} · ${m.memoryGiB} GiB RAM · ${m.natsServer} · ${m.date}`;
}

export function renderSection(r: BenchResult): string {
  const lines: string[] = [];
  lines.push(`## ${r.title} — ${verdict(r)}${r.quick ? ' (quick)' : ''}`, '');
  lines.push(r.measures, '');
  lines.push(`Setup: ${Object.entries(r.setup).map(([k, v]) => `${k} ${v}`).join(' · ')}`, '');
  lines.push(`Machine: ${machineLine(r.machine)} · took ${(r.durationMs / 1000).toFixed(1)} s`, '');
  if (r.error) lines.push('**Error:**', '', '```', r.error, '```', '');
  if (r.figures.length > 0) {
    lines.push('| figure | value | target | result |', '|---|---:|---|---|');
    for (const f of r.figures) {
      const result = f.pass === undefined ? '' : f.pass ? 'pass' : '**fail**';
      lines.push(`| ${f.name} | ${formatValue(f)} | ${f.target ?? ''} | ${result} |`);
    }
    lines.push('');
  }
  if (r.notes.length > 0) {
    for (const n of r.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
}

export function renderResults(results: BenchResult[], header: string): string {
  const order = (id: BenchId) => BENCH_IDS.indexOf(id);
  const sorted = [...results].sort((a, b) => order(a.id) - order(b.id));
  const summary = ['| benchmark | result | measured |', '|---|---|---|'];
  for (const r of sorted) summary.push(`| ${r.title} | ${verdict(r)} | ${r.machine.date} |`);
  return [header, '', summary.join('\n'), '', ...sorted.map(renderSection)].join('\n');
}

export function summaryLines(results: BenchResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    out.push(`${verdict(r).padEnd(5)} ${r.title}${r.error ? `: ${r.error.split('\n')[0]}` : ''}`);
    for (const f of r.figures) {
      const mark = f.pass === undefined ? '' : f.pass ? '  ✓' : '  ✗';
      out.push(`        ${f.name}: ${formatValue(f)}${f.target ? ` (target ${f.target})` : ''}${mark}`);
    }
  }
  return out;
}

export interface BenchOutcome {
  figures: Figure[];
  notes: string[];
}

/** One benchmark: a file under test/bench/ exports one of these. */
export interface Benchmark {
  id: BenchId;
  title: string;
  measures: string;
  setup(quick: boolean): Record<string, string | number>;
  run(options: BenchOptions): Promise<BenchOutcome>;
}
