/**
 * `npm run bench [-- failure|pipeline|memory ...] [--quick]`
 *
 * Runs the benchmarks in sequence (each starts its own nats-server and stops everything
 * it started), prints a summary and writes test/bench/RESULTS.md (RESULTS.quick.md with
 * --quick, so a smoke run never overwrites the real figures). Running a subset keeps the
 * other benchmarks' last results (stored in results.json next to it).
 * Knobs (env): BENCH_KEEP_DIRS=1 keeps each benchmark's temporary directory (store, logs);
 * BENCH_CPU_PROF=projector,hub,device-gateway writes V8 CPU profiles of those services
 * there; BENCH_SERVICE_LOG_LEVEL sets the services' log level (default info; the gateway
 * of the memory benchmark: warn); BENCH_STAGES=1 also times the projector's broadcasts in
 * the failure benchmark; BENCH_NATS_CONFIG=path runs nats-server with another config;
 * BENCH_NODE_FLAGS='--trace-gc …' passes more Node/V8 flags to every service started with
 * `lifeline run` (diagnosis); BENCH_QUIET_WAIT_S: how long to wait for an idle machine before each benchmark
 * (default 120, quick 10).
 * Exit code: 0 when every benchmark ran (pass or fail against its target), 1 when one
 * could not complete, 2 for bad arguments.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Before any project module creates its logger: the bench process itself logs warnings only.
process.env.LIFELINE_LOG_LEVEL ??= 'warn';

const { machineFacts } = await import('./lib/machine.ts');
const { waitForQuietMachine } = await import('./lib/load.ts');
const { BENCH_IDS, passed, renderResults, summaryLines } = await import('./lib/report.ts');
type BenchId = import('./lib/report.ts').BenchId;
type BenchResult = import('./lib/report.ts').BenchResult;
type Benchmark = import('./lib/report.ts').Benchmark;

const USAGE = `usage: npm run bench [-- <${BENCH_IDS.join('|')}> ...] [--quick]
  ceiling   the raw ceiling: the same hops with nothing of Lifeline (always run first)
  failure   1,000 devices × 5 pending commands, 100 killed: kill → WebSocket 'failed' latency
  pipeline  transition records per second, actors → outbox → JetStream → projector, vs raw JetStream
  memory    RSS of the device gateway process per idle connected device (10,000 devices)
  child     Flask child: restart overhead after SIGKILL, supervisor idle CPU with 20 children
  link      ESP32 link: key sync after readiness, recovery from a silent radio
  hub       1,000 dashboard WebSockets while an RPC backend flaps: fan-out latency, hub CPU and RSS
  telemetry publisher → dashboard latency; recovery after a NATS restart
  cluster   3-node NATS cluster: R3 vs R1 publish latency and throughput, stream leader failover after SIGKILL
  --quick   small sizes, a smoke run (writes RESULTS.quick.md)
`;

function parseArgs(argv: string[]): { ids: BenchId[]; quick: boolean } | string {
  const ids: BenchId[] = [];
  let quick = false;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg === '-h' || arg === '--help') return '';
    else if ((BENCH_IDS as readonly string[]).includes(arg)) ids.includes(arg as BenchId) || ids.push(arg as BenchId);
    else return `unknown argument '${arg}'`;
  }
  // every figure is set against a ceiling measured in the same run: it always runs first
  const chosen = ids.length > 0 ? ids.filter((id) => id !== 'ceiling') : BENCH_IDS.filter((id) => id !== 'ceiling');
  return { ids: ['ceiling', ...chosen], quick };
}

async function load(id: BenchId): Promise<Benchmark> {
  switch (id) {
    case 'ceiling':
      return (await import('./rawCeiling.ts')).rawCeiling;
    case 'failure':
      return (await import('./failurePropagation.ts')).failurePropagation;
    case 'pipeline':
      return (await import('./recordPipeline.ts')).recordPipeline;
    case 'memory':
      return (await import('./gatewayMemory.ts')).gatewayMemory;
    case 'child':
      return (await import('./childRestart.ts')).childRestart;
    case 'link':
      return (await import('./linkSync.ts')).linkSync;
    case 'hub':
      return (await import('./hubFanout.ts')).hubFanout;
    case 'telemetry':
      return (await import('./telemetryLatency.ts')).telemetryLatency;
    case 'cluster':
      return (await import('./clusterReplication.ts')).clusterReplication;
  }
}

function readPrevious(path: string): BenchResult[] {
  if (!existsSync(path)) return [];
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as BenchResult[];
  } catch {
    return [];
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(args ? `bench: ${args}\n${USAGE}` : USAGE);
    return args ? 2 : 0;
  }
  const machine = machineFacts();
  process.stdout.write(`Lifeline benchmarks${args.quick ? ' (quick)' : ''}: ${args.ids.join(', ')}\n`);
  process.stdout.write(`Node ${machine.node} · nproc ${machine.nproc} · ${machine.cpuModel} · ${machine.natsServer}\n\n`);

  // a shared machine: wait (bounded) for other processes to calm down before each benchmark
  const quietWaitMs = Number(process.env.BENCH_QUIET_WAIT_S ?? (args.quick ? 10 : 120)) * 1000;
  const results: BenchResult[] = [];
  for (const id of args.ids) {
    const bench = await load(id);
    const started = Date.now();
    const log = (line: string): void => void process.stdout.write(`  [${id} +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
    process.stdout.write(`▶ ${bench.title}\n`);
    const base = { id, title: bench.title, quick: args.quick, measures: bench.measures, setup: bench.setup(args.quick) };
    try {
      const busy = await waitForQuietMachine(quietWaitMs, log);
      const outcome = await bench.run({ quick: args.quick, log });
      if (process.env.BENCH_CPU_PROF) outcome.notes.push(`CPU profiling was on (BENCH_CPU_PROF=${process.env.BENCH_CPU_PROF}): figures are pessimistic.`);
      outcome.notes.push(`Before the start, other processes kept the machine ${(busy * 100).toFixed(0)} % busy (sampled over 1–2 s; the harness waits up to ${Math.round(quietWaitMs / 1000)} s for < 10 %).`);
      results.push({ ...base, ...outcome, durationMs: Date.now() - started, machine: { ...machine, date: new Date().toISOString() } });
    } catch (err) {
      const error = (err as Error).stack ?? String(err);
      log(`ERROR ${error}`);
      results.push({ ...base, figures: [], notes: [], error, durationMs: Date.now() - started, machine: { ...machine, date: new Date().toISOString() } });
    }
    process.stdout.write(`${summaryLines(results.slice(-1)).join('\n')}\n\n`);
  }

  const suffix = args.quick ? '.quick' : '';
  const jsonPath = fileURLToPath(new URL(`./results${suffix}.json`, import.meta.url));
  const mdPath = fileURLToPath(new URL(`./RESULTS${suffix}.md`, import.meta.url));
  const merged = [...readPrevious(jsonPath).filter((r) => !args.ids.includes(r.id)), ...results];
  writeFileSync(jsonPath, `${JSON.stringify(merged, null, 2)}\n`);
  const header = [
    `# Lifeline benchmark results${args.quick ? ' (quick smoke run: small sizes, not the real figures)' : ''}`,
    '',
    'Written by `npm run bench` (test/bench/run.ts). Each section is the latest run of that benchmark;',
    'figures with a target decide pass/fail. Latencies are in milliseconds, memory in KiB (1 KB = 1,024 bytes).',
  ].join('\n');
  writeFileSync(mdPath, `${renderResults(merged, header)}\n`);

  process.stdout.write('Summary\n');
  process.stdout.write(`${summaryLines(results).join('\n')}\n`);
  process.stdout.write(`\nwritten: ${mdPath}\n`);
  const allPassed = results.every(passed);
  process.stdout.write(allPassed ? 'every target met\n' : 'some targets missed or benchmarks failed (see above)\n');
  return results.some((r) => r.error) ? 1 : 0;
}

process.exitCode = await main();
// Benchmarks close their sockets; anything a library left behind must not keep us alive.
setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
