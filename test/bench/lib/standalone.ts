import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Benchmark } from './report.ts';
import { fmt } from './stats.ts';

/**
 * Lets a benchmark file run alone (`node --import tsx test/bench/<file>.ts [--quick]`):
 * when `moduleUrl` is the entry point, runs `benchmark` and prints its figures and notes.
 */
export async function runIfEntryPoint(moduleUrl: string, benchmark: Pick<Benchmark, 'id' | 'run'>): Promise<void> {
  const entry = process.argv[1];
  if (entry === undefined || moduleUrl !== pathToFileURL(realpathSync(entry)).href) return;
  process.env.LIFELINE_LOG_LEVEL ??= 'warn';
  const quick = process.argv.includes('--quick');
  const started = Date.now();
  const log = (line: string): void => {
    process.stdout.write(`  [${benchmark.id} +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
  };
  const outcome = await benchmark.run({ quick, log });
  for (const f of outcome.figures) {
    const mark = f.pass === undefined ? '' : f.pass ? '  ✓' : '  ✗';
    process.stdout.write(`  ${f.name}: ${fmt(f.value, f.decimals ?? 1)} ${f.unit}${f.target ? ` (target ${f.target})` : ''}${mark}\n`);
  }
  for (const n of outcome.notes) process.stdout.write(`  - ${n}\n`);
  setTimeout(() => process.exit(0), 500).unref();
}
