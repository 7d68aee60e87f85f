import type { MachineFacts } from './machine.ts';

export const BENCH_IDS = ['ceiling', 'failure', 'pipeline', 'memory', 'child', 'link', 'hub', 'telemetry', 'cluster'] as const;
export type BenchId = (typeof BENCH_IDS)[number];

export interface Figure {
  name: string;
  value: number;
  unit: string;
  decimals?: number;
  /** e.g. `< 100 ms`; only figures with a target decide pass/fail. */
  target?: string;
  pass?: boolean;
  /** A raw-ceiling figure: the key other figures name in `ceiling`. */
  key?: string;
  /** The key of the raw figure this one is set against in the report's overview. */
  ceiling?: string;
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

/** Throughput (per second): a share of the ceiling; latency, memory, time: a multiple of it. */
export function ratioText(value: number, raw: number, unit: string): string {
  if (!Number.isFinite(value) || !Number.isFinite(raw) || raw <= 0) return '—';
  const ratio = value / raw;
  if (unit.startsWith('/')) return `${(ratio * 100).toFixed(1)} % of raw`;
  return `${ratio < 10 ? ratio.toFixed(1) : ratio.toFixed(0)} × raw`;
}

/** Every figure that names a ceiling, beside that ceiling's figure and their ratio. */
export function ceilingRows(results: BenchResult[]): Array<{ bench: BenchResult; figure: Figure; raw: Figure | undefined }> {
  const raws = new Map<string, Figure>();
  for (const r of results) for (const f of r.figures) if (f.key) raws.set(f.key, f);
  const rows = [];
  for (const r of results) for (const f of r.figures) if (f.ceiling) rows.push({ bench: r, figure: f, raw: raws.get(f.ceiling) });
  return rows;
}

function overview(results: BenchResult[]): string[] {
  const rows = ceilingRows(results);
  if (rows.length === 0) return [];
  const ceilingRun = results.find((r) => r.id === 'ceiling');
  const lines = [
    '## Against the raw ceiling',
    '',
    `Each headline figure beside the same path with nothing of Lifeline in it (first section below${ceilingRun ? `, measured ${ceilingRun.machine.date}` : ''}; the pipeline's raw rate is measured inside its own benchmark, alternating with Lifeline). A throughput is shown as a share of raw, a latency, a memory or a time as a multiple of raw.`,
    '',
    '| benchmark | figure | Lifeline | raw ceiling | ratio | target |',
    '|---|---|---:|---:|---:|---|',
  ];
  for (const { bench, figure, raw } of rows) {
    const result = figure.pass === undefined ? '' : figure.pass ? ' (pass)' : ' (**fail**)';
    lines.push(`| ${bench.title} | ${figure.name} | ${formatValue(figure)} | ${raw ? `${formatValue(raw)} (${raw.name})` : 'not measured'} | ${raw ? ratioText(figure.value, raw.value, figure.unit) : '—'} | ${figure.target ?? ''}${result} |`);
  }
  lines.push('');
  return lines;
}

export function renderResults(results: BenchResult[], header: string): string {
  const order = (id: BenchId) => BENCH_IDS.indexOf(id);
  const sorted = [...results].sort((a, b) => order(a.id) - order(b.id));
  const summary = ['| benchmark | result | measured |', '|---|---|---|'];
  for (const r of sorted) summary.push(`| ${r.title} | ${verdict(r)} | ${r.machine.date} |`);
  return [header, '', summary.join('\n'), '', ...overview(sorted), ...sorted.map(renderSection)].join('\n');
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
