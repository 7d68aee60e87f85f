import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { freePorts } from '../../infra/nats/index.ts';
import { statePath } from '../../services/runtime/statePath.ts';
import { childSpecSchema } from '../../services/child-supervisor/childSpec.ts';
import { loadRuntimeConfig } from '../../services/cli/config.ts';
import { startChildServices } from '../../services/cli/services/childServices.ts';
import { spawnTsx } from './lib/children.ts';
import { startBenchNats } from './lib/nats.ts';
import { cpuTimeMs, procMemory } from './lib/proc.ts';
import { CEILING } from './lib/ceilingKeys.ts';
import type { Benchmark, BenchOptions, BenchOutcome } from './lib/report.ts';
import { Scope, sleep } from './lib/scope.ts';
import { distribution, fmt } from './lib/stats.ts';

const FLASK_APP = fileURLToPath(new URL('../../infra/flask-app/app.py', import.meta.url));
const SUPERVISOR_PROCESS = fileURLToPath(new URL('./childSupervisorProcess.ts', import.meta.url));
const TARGET_OVERHEAD_MS = 1_000;
const TARGET_IDLE_CPU_PERCENT = 2;

function sizes(quick: boolean) {
  return quick ? { crashes: 3, children: 5, idleSeconds: 5 } : { crashes: 10, children: 20, idleSeconds: 30 };
}

/** The demo Flask child with the production defaults (restartDelay 2 s ± 10 %, first health check after 500 ms). */
const flaskSpec = (name: string, port: number, extra: Record<string, unknown> = {}) =>
  childSpecSchema.parse({ name, script: FLASK_APP, requires: ['flask', 'flask_cors'], port, ...extra });

/**
 * `npm run bench -- child`: (1) a ready Flask child is SIGKILLed; time until it is ready
 * again, against the restart delay the supervisor chose (overhead = the difference);
 * (2) CPU of a supervisor process idling with N ready Flask children.
 * To be listed in test/bench/run.ts as id `child`.
 */
export const childRestart: Omit<Benchmark, 'id'> & { id: 'child' } = {
  id: 'child',
  title: 'Child restart and supervisor idle cost',
  measures: [
    'Restart: a ready Flask child (infra/flask-app, Debian python3) supervised with the production defaults is killed with',
    'SIGKILL; measured from the kill to the supervisor’s actor entering `ready` again (a 2xx health answer), against the',
    'restart delay the machine chose for that restart (`restart_delay_ms`: 2 s ± 10 % jitter). Overhead = elapsed − delay:',
    'exit detection, pre-flight (interpreter, script, `import flask, flask_cors`, port), spawn, Flask start-up and the',
    'health-check schedule (first check 500 ms after the spawn, then ×1.2). The child is ready for 1 s between kills',
    '(stablePeriod 1 s, so every restart uses the base delay). Idle: the supervisor alone as its own process',
    '(test/bench/childSupervisorProcess.ts) with N ready Flask children and liveness checks every 10 s (the default);',
    'user+system CPU time of that process over the idle window (/proc/<pid>/stat).',
  ].join(' '),
  setup: (quick) => {
    const s = sizes(quick);
    return { crashes: s.crashes, 'idle children': s.children, 'idle window s': s.idleSeconds, restartDelay: '2000 ms ± 10 %' };
  },
  run: runChildRestart,
};

export async function runChildRestart(options: BenchOptions): Promise<BenchOutcome> {
  const s = sizes(options.quick);
  const scope = new Scope();
  try {
    const nats = await startBenchNats(scope, 'child');
    const config = loadRuntimeConfig({ natsUrl: nats.server.url, dataDir: nats.dir }, {});

    // (1) crash → ready
    const [port] = (await freePorts(1)) as [number];
    // the crashes are on purpose: their error logs (with troubleshooting) would only be noise here
    const [service] = await startChildServices(nats.endpoint, config, [flaskSpec('bench-flask', port, { stablePeriod: 1_000, maxRestartAttempts: 1_000 })], {
      logger: pino({ level: 'silent' }),
    });
    scope.defer('stop the restart child', () => service!.stop());
    const supervisor = service!.supervisor;
    const entered = new Map<string, number>();
    supervisor.hosted.actor.subscribe((snapshot) => {
      const path = statePath(snapshot.value);
      if (!entered.has(path)) entered.set(path, performance.now());
    });
    await supervisor.waitFor((path) => path === 'ready', 30_000);
    const elapsed: number[] = [];
    const overhead: number[] = [];
    const detect: number[] = [];
    const preflight: number[] = [];
    const spawnToReady: number[] = [];
    for (let i = 0; i < s.crashes; i++) {
      await sleep(1_100);
      const pid = supervisor.summary().pid!;
      entered.clear();
      const killedAt = performance.now();
      process.kill(pid, 'SIGKILL');
      await supervisor.waitFor((path) => path === 'restarting.backoff', 10_000);
      const delay = supervisor.summary().restart_delay_ms!;
      await supervisor.waitFor((path) => path === 'ready', 30_000);
      const readyAt = entered.get('ready')!;
      elapsed.push(readyAt - killedAt);
      overhead.push(readyAt - killedAt - delay);
      detect.push(entered.get('restarting.backoff')! - killedAt);
      preflight.push(entered.get('starting.spawning')! - entered.get('starting.validating')!);
      spawnToReady.push(readyAt - entered.get('starting.spawning')!);
      options.log(`crash ${i + 1}/${s.crashes}: ready again after ${fmt(readyAt - killedAt, 0)} ms (delay ${delay} ms)`);
    }
    await service!.stop();

    // (2) idle CPU of a supervisor process with N ready children
    const ports = await freePorts(s.children);
    const configFile = join(nats.dir, 'children.config.json');
    writeFileSync(configFile, JSON.stringify({ children: ports.map((p, i) => ({ name: `idle-${i + 1}`, script: FLASK_APP, requires: ['flask', 'flask_cors'], port: p })) }));
    options.log(`starting a supervisor process with ${s.children} Flask children`);
    const proc = spawnTsx(scope, 'child-supervisor', SUPERVISOR_PROCESS, [nats.server.url, nats.dir, configFile], join(nats.dir, 'child-supervisor.log'), {
      LIFELINE_LOG_LEVEL: 'warn',
      LIFELINE_LOG_JSON: '1',
    });
    const startedAt = performance.now();
    await proc.waitForLine(/^children ready/, 180_000);
    const allReadyMs = performance.now() - startedAt;
    await sleep(2_000); // let start-up work (JIT, first liveness round) settle
    const cpu0 = cpuTimeMs(proc.pid);
    const wall0 = performance.now();
    await sleep(s.idleSeconds * 1_000);
    const cpuMs = cpuTimeMs(proc.pid) - cpu0;
    const wallMs = performance.now() - wall0;
    const rssKb = procMemory(proc.pid).rssKb;
    const cpuPercent = (cpuMs / wallMs) * 100;

    const e = distribution(elapsed);
    const o = distribution(overhead);
    return {
      figures: [
        { name: 'crash → ready, median', value: e.p50, unit: 'ms', decimals: 0, ceiling: CEILING.flaskReadyMs },
        { name: 'crash → ready, max', value: e.max, unit: 'ms', decimals: 0 },
        { name: 'overhead over the restart delay, median', value: o.p50, unit: 'ms', decimals: 0, target: `< ${TARGET_OVERHEAD_MS} ms`, pass: o.p50 < TARGET_OVERHEAD_MS },
        { name: 'overhead over the restart delay, max', value: o.max, unit: 'ms', decimals: 0 },
        { name: `supervisor CPU idle with ${s.children} children`, value: cpuPercent, unit: '%', decimals: 2, target: `< ${TARGET_IDLE_CPU_PERCENT} %`, pass: cpuPercent < TARGET_IDLE_CPU_PERCENT },
        { name: `supervisor RSS with ${s.children} children`, value: rssKb, unit: 'KiB', decimals: 0 },
      ],
      notes: [
        `Overhead, median: exit detected ${fmt(distribution(detect).p50, 0)} ms after the kill; pre-flight ${fmt(distribution(preflight).p50, 0)} ms; spawn → ready ${fmt(distribution(spawnToReady).p50, 0)} ms (Flask start-up plus the health-check schedule, whose first check comes 500 ms after the spawn).`,
        `Idle: ${fmt(cpuMs, 0)} ms of CPU in ${fmt(wallMs / 1_000, 1)} s; the ${s.children} children were all ready ${fmt(allReadyMs / 1_000, 1)} s after the supervisor process started.`,
      ],
    };
  } finally {
    const problems = await scope.close();
    for (const p of problems) options.log(`cleanup: ${p}`);
  }
}
