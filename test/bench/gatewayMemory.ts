import { join } from 'node:path';
import { freePorts } from '../../infra/nats/index.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { STREAMS } from '../../services/bus/subjects.ts';
import { spawnTsx, startLifelineService } from './lib/children.ts';
import { startBenchNats } from './lib/nats.ts';
import { openFds, procMemory } from './lib/proc.ts';
import { CEILING } from './lib/ceilingKeys.ts';
import { runIfEntryPoint } from './lib/standalone.ts';
import type { Benchmark, BenchOptions, BenchOutcome } from './lib/report.ts';
import { Scope, sleep, waitUntil } from './lib/scope.ts';
import { median } from './lib/stats.ts';

const TARGET_KB_PER_CONNECTION = 20;
const DEVICES_PER_FLEET_PROCESS = 5_000;

function sizes(quick: boolean) {
  return quick ? { devices: 1_000 } : { devices: 10_000 };
}

export const gatewayMemory: Benchmark = {
  id: 'memory',
  title: 'Gateway memory per connection',
  measures: [
    'Resident set size (VmRSS from /proc/<pid>/status) of the device gateway process (`lifeline run',
    'device-gateway`, its own process, connected to its own nats-server) before any device connects and',
    'after every simulated device is connected, welcomed, its first record stored in JetStream and the',
    'process has settled; per connection = (after − before) / devices. Each figure is the median of',
    'samples taken once a second. The devices are idle (they only answer pings) and live in separate',
    `fleet processes of at most ${DEVICES_PER_FLEET_PROCESS.toLocaleString('en-US')} sockets each.`,
  ].join(' '),
  setup: (quick) => ({ devices: sizes(quick).devices, 'fleet processes': Math.ceil(sizes(quick).devices / DEVICES_PER_FLEET_PROCESS) }),
  run: runGatewayMemory,
};

/** RSS samples once a second; returns the median of the last `n`. */
async function settledRss(pid: number, n: number): Promise<{ rssKb: number; samples: number[] }> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) await sleep(1_000);
    samples.push(procMemory(pid).rssKb);
  }
  return { rssKb: median(samples), samples };
}

async function runGatewayMemory(options: BenchOptions): Promise<BenchOutcome> {
  const { devices } = sizes(options.quick);
  const scope = new Scope();
  try {
    const nats = await startBenchNats(scope, 'memory');
    const jsm = await jetstreamManager(nats.admin.nc);
    const [devicePort] = (await freePorts(1)) as [number];
    const gateway = await startLifelineService(scope, 'device-gateway', {
      natsUrl: nats.server.url,
      dataDir: nats.dir,
      devicePort,
      logPath: join(nats.dir, 'gateway.log'),
      // one info line per connected device would be 10,000 lines: warnings only
      env: { LIFELINE_LOG_LEVEL: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn' },
    });
    const baseFds = openFds(gateway.pid);
    await sleep(3_000);
    const before = await settledRss(gateway.pid, 5);
    options.log(`gateway pid ${gateway.pid}: RSS before ${before.rssKb} KB`);

    const fleets = Math.ceil(devices / DEVICES_PER_FLEET_PROCESS);
    options.log(`connecting ${devices} devices from ${fleets} fleet process(es)`);
    const handles = Array.from({ length: fleets }, (_, i) => {
      const count = Math.min(DEVICES_PER_FLEET_PROCESS, devices - i * DEVICES_PER_FLEET_PROCESS);
      const h = spawnTsx(scope, `fleet-${i + 1}`, 'test/bench/fleetProcess.ts', [String(devicePort), String(count), `f${i + 1}-dev`, '100'], join(nats.dir, `fleet-${i + 1}.log`));
      return h;
    });
    const connected = await Promise.all(handles.map((h) => h.waitForLine(/^(connected|failed) /, 180_000)));
    const failed = connected.find((l) => l.startsWith('failed'));
    if (failed) throw new Error(`a fleet could not connect: ${failed}`);
    options.log(connected.join('; '));
    await waitUntil(`${devices} device sockets open in the gateway`, () => openFds(gateway.pid) >= baseFds + devices, 30_000, 200, () => `${openFds(gateway.pid) - baseFds} open`);
    await waitUntil(
      `${devices} connect records stored in CONN`,
      async () => (await jsm.streams.info(STREAMS.conn)).state.messages >= devices,
      60_000,
      250,
    );
    await sleep(3_000);
    const after = await settledRss(gateway.pid, 5);
    const fds = openFds(gateway.pid) - baseFds;
    const mem = procMemory(gateway.pid);
    const perConnection = (after.rssKb - before.rssKb) / devices;
    options.log(`RSS after ${after.rssKb} KB: ${perConnection.toFixed(1)} KB per connection`);

    return {
      figures: [
        { name: 'gateway RSS before', value: before.rssKb / 1024, unit: 'MB', decimals: 1 },
        { name: `gateway RSS with ${devices.toLocaleString('en-US')} devices`, value: after.rssKb / 1024, unit: 'MB', decimals: 1 },
        { name: 'RSS per connection', value: perConnection, unit: 'KB', decimals: 1, target: `< ${TARGET_KB_PER_CONNECTION} KB`, pass: perConnection < TARGET_KB_PER_CONNECTION, ceiling: CEILING.tcpKbPerConnection },
        { name: 'gateway peak RSS (VmHWM)', value: mem.hwmKb / 1024, unit: 'MB', decimals: 1 },
      ],
      notes: [
        `RSS samples (KB), before: ${before.samples.join(', ')}; after: ${after.samples.join(', ')}.`,
        `${fds.toLocaleString('en-US')} more file descriptors open in the gateway after the connects (one socket per device).`,
        'RSS counts the V8 heap as it grew (no GC is forced) with the actors, sockets and buffers in it; the kernel’s socket buffers are not part of RSS.',
        'Found with this benchmark: the gateway called `deviceSocketMachine.provide(...)` for every connection, and each copy of the machine cost ~15 KB of heap once its actor ran (36.5 KB per connection before; services/device-gateway/deviceConnection.ts now provides it once and the actions find their socket through the actor).',
      ],
    };
  } finally {
    const problems = await scope.close();
    for (const p of problems) options.log(`cleanup: ${p}`);
  }
}
await runIfEntryPoint(import.meta.url, gatewayMemory);
