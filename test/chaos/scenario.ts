import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectAs } from '../../services/cli/natsEndpoint.ts';
import { subjects } from '../../services/bus/subjects.ts';
import { retried } from '../support/retried.ts';
import { allConsumersCaughtUp } from '../support/streams.ts';
import { waitFor } from '../support/waitFor.ts';
import { startChaosSystem, type ChaosSystem, type Role } from './chaosSystem.ts';
import { checkFlows, checkProjections, checkRecords, checkTelemetry, producedByConnections, producedByHub, readAllRecords, type FlowCheck, type ProjectionCheck, type RecordCheck } from './checks.ts';
import { FAULT_LOCKS, FAULTS, runFault, sleep, type FaultEpisode, type FaultName } from './faults.ts';
import { fuzzHttp } from './fuzz/httpBodies.ts';
import { fuzzMesh, meshTallyUntyped } from './fuzz/meshFrames.ts';
import { fuzzNats } from './fuzz/natsPayloads.ts';
import { emptyTally, type FuzzTally } from './fuzz/tally.ts';
import { fuzzTcpLines } from './fuzz/tcpLines.ts';
import { fuzzWs } from './fuzz/wsFrames.ts';
import { startLoad, type LoadCounts } from './load.ts';
import type { TopologyKind } from './natsTopology.ts';
import type { ProcessExit } from './processes.ts';
import { createChaosRandom, type ChaosRandom } from './random.ts';

/**
 * One chaos run: the real system under load, a seeded schedule of faults (one lane) and
 * bursts of malformed input (another lane, never aimed at a part that is down), then a
 * settle period and the checks. The same seed gives the same schedule and the same inputs.
 */

export type Boundary = 'tcp' | 'http' | 'ws' | 'nats' | 'mesh';
export const BOUNDARIES: Boundary[] = ['tcp', 'http', 'ws', 'nats', 'mesh'];
const BOUNDARY_LOCKS: Record<Boundary, string[]> = { tcp: ['gateway', 'nats'], http: ['hub'], ws: ['hub'], nats: ['nats'], mesh: ['esp32-emulator', 'nats'] };
const BOUNDARY_NAMES: Record<Boundary, string> = {
  tcp: 'device gateway TCP lines',
  http: 'hub HTTP bodies',
  ws: 'hub /ws frames',
  nats: 'NATS payloads',
  mesh: 'Meshtastic frames (ESP32 link)',
};

export interface ChaosOptions {
  seed: number;
  /** How long faults keep coming; every fault and every boundary is hit at least once whatever it is. */
  durationMs: number;
  /** Malformed inputs per burst. */
  fuzzPerBurst?: number;
  devices?: number;
  /** Projector processes (default 2: the active one and a standby, either may be killed). */
  projectors?: number;
  topology?: TopologyKind;
  /** Faults that may be under way at once (default 2: two parts down together now and then). */
  faultLanes?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  topology: string;
  chaosMs: number;
  settleMs: number;
  episodes: FaultEpisode[];
  load: LoadCounts;
  fuzz: FuzzTally[];
  telemetryErrorsSeen: number;
  records: RecordCheck;
  flows: FlowCheck;
  projections: ProjectionCheck;
  telemetry: Awaited<ReturnType<typeof checkTelemetry>>;
  crashes: ProcessExit[];
  wsStillOpen: number;
  natsRunning: boolean;
  problems: string[];
}

function shuffled<T>(items: readonly T[], rng: ChaosRandom): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Named locks: a fault holds what it takes down, a fuzz burst what it talks to. */
function createLocks(): { acquire(names: string[]): Promise<void>; release(names: string[]): void } {
  const held = new Set<string>();
  return {
    acquire: async (names) => {
      while (names.some((n) => held.has(n))) await sleep(20);
      for (const n of names) held.add(n);
    },
    release: (names) => {
      for (const n of names) held.delete(n);
    },
  };
}

async function kvEntries(nc: NatsConnection, bucket: string): Promise<Record<string, unknown>> {
  const kv = await new Kvm(nc).open(bucket);
  const out: Record<string, unknown> = {};
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (entry?.operation === 'PUT') out[key] = entry.json();
  }
  return out;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const rng = createChaosRandom(options.seed);
  const problems: string[] = [];
  log(`chaos: seed ${options.seed} (replay with CHAOS_SEED=${options.seed}), NATS ${options.topology ?? 'single-node'}, faults for ${(options.durationMs / 1000).toFixed(0)} s`);
  const system = await startChaosSystem({ projectors: options.projectors ?? 2, ...(options.topology ? { topology: options.topology } : {}) });
  log(`chaos: system up (NATS ${system.nats.kind} ${system.nats.url}, hub ${system.httpUrl}, devices on ${system.devicePort}, data ${system.dataDir})`);
  try {
    return await runOn(system, rng, options, problems, log);
  } finally {
    await system.stop();
  }
}

async function runOn(system: ChaosSystem, rng: ChaosRandom, options: ChaosOptions, problems: string[], log: (line: string) => void): Promise<ChaosReport> {
  const started = Date.now();
  const load = startLoad({ httpUrl: system.httpUrl, devicePort: system.devicePort, random: rng.fork('load'), devices: options.devices ?? 6 });
  const endpoint = system.nats.endpoint;
  const fuzzNc = {
    admin: system.admin.nc,
    hub: (await connectAs(endpoint, 'hub', 'chaos-fuzz-hub')).nc,
    gateway: (await connectAs(endpoint, 'gateway', 'chaos-fuzz-gateway')).nc,
    telemetry: (await connectAs(endpoint, 'telemetry', 'chaos-fuzz-telemetry')).nc,
  };
  let telemetryErrorsSeen = 0;
  system.admin.nc.subscribe(subjects.telemetryError, { callback: () => void (telemetryErrorsSeen += 1) });
  const natsCounters = { connGarbage: 0, commandGarbage: 0, telemetryGarbage: 0 };
  const tallies = new Map<Boundary, FuzzTally>(BOUNDARIES.map((b) => [b, emptyTally(BOUNDARY_NAMES[b])]));
  const locks = createLocks();
  const episodes: FaultEpisode[] = [];
  let faultsDone = false;

  // fault lanes share one plan: every fault once in a seeded order, then seeded picks until the duration is over
  const faultRng = rng.fork('faults');
  const plan = shuffled(FAULTS, faultRng);
  let planned = 0;
  const nextFault = (): FaultName | null => {
    if (planned < plan.length) return plan[planned++]!;
    return Date.now() - started < options.durationMs ? faultRng.pick(FAULTS) : null;
  };
  const faultLane = async (lane: number): Promise<void> => {
    for (let fault = nextFault(); fault !== null; fault = nextFault()) {
      const hold = faultRng.int(300, 1_500);
      await sleep(faultRng.int(200, 1_000));
      await locks.acquire(FAULT_LOCKS[fault]);
      try {
        const episode = await runFault(system, fault, faultRng, hold, started);
        episodes.push(episode);
        log(`chaos: ${(episode.atMs / 1000).toFixed(1).padStart(6)} s  lane ${lane}  ${fault.padEnd(15)} ${episode.target.padEnd(18)} down ${episode.heldMs} ms, healthy ${episode.recoveredMs} ms after restore`);
      } catch (err) {
        problems.push(`fault ${fault}: not restored: ${(err as Error).message.split('\n')[0]}`);
        // left as it is: the next fault on this part starts it again, and the settle period starts everything
        log(`chaos: fault ${fault} failed to restore: ${(err as Error).message.split('\n')[0]}`);
      } finally {
        locks.release(FAULT_LOCKS[fault]);
      }
    }
  };
  const faultLanes = Promise.all(Array.from({ length: options.faultLanes ?? 2 }, (_, i) => faultLane(i + 1))).then(() => {
    faultsDone = true;
  });

  const fuzzRng = rng.fork('fuzz');
  const perBurst = options.fuzzPerBurst ?? 12;
  const deviceIds = (): string[] => Array.from({ length: options.devices ?? 6 }, (_, i) => `127.0.0.1:chaos-d${i}`);
  const fuzzLane = (async () => {
    const plan = shuffled(BOUNDARIES, fuzzRng);
    for (let i = 0; i < plan.length || !faultsDone; i++) {
      const boundary = i < plan.length ? plan[i]! : fuzzRng.pick(BOUNDARIES);
      const seed = fuzzRng.int(0, 0x7fff_ffff);
      await sleep(fuzzRng.int(100, 600));
      const tally = tallies.get(boundary)!;
      await locks.acquire(BOUNDARY_LOCKS[boundary]);
      try {
        switch (boundary) {
          case 'tcp':
            await fuzzTcpLines(system.devicePort, seed, perBurst, tally, String(i));
            break;
          case 'http':
            await fuzzHttp(system.httpUrl, deviceIds(), seed, perBurst, tally);
            break;
          case 'ws':
            await fuzzWs(system.httpUrl, seed, perBurst, tally);
            break;
          case 'nats':
            await fuzzNats(fuzzNc, { deviceIds: deviceIds(), child: 'flask', link: 'radio', session: system.telemetrySession() }, seed, perBurst, tally, natsCounters);
            break;
          case 'mesh': {
            const emulator = system.process('esp32-emulator');
            await fuzzMesh((hex) => emulator?.command(`raw ${hex}`), seed, perBurst, tally);
            // no answer is due to a radio frame: the link must still be there and answer its ping
            try {
              await waitFor(async () => {
                const reply = await system.admin.nc.request(subjects.linkPing('radio'), '', { timeout: 2_000 });
                return (JSON.parse(reply.string()) as { link?: string }).link === 'radio';
              }, 10_000, 'the ESP32 link answering its ping');
            } catch (err) {
              meshTallyUntyped(tally, `after a burst: ${(err as Error).message}`);
            }
            break;
          }
        }
      } catch (err) {
        tally.untyped += 1;
        tally.examples.push(`burst failed: ${(err as Error).message.split('\n')[0]}`);
      } finally {
        locks.release(BOUNDARY_LOCKS[boundary]);
      }
    }
  })();

  await Promise.all([faultLanes, fuzzLane]);
  const chaosMs = Date.now() - started;
  log(`chaos: ${episodes.length} faults and ${[...tallies.values()].reduce((s, t) => s + t.sent, 0)} malformed inputs in ${(chaosMs / 1000).toFixed(1)} s; settling`);

  // settle: everything up, load stopped, every accepted command finished, devices and dashboards gone
  const settleStart = Date.now();
  const step = (what: string): void => log(`chaos: settle +${((Date.now() - settleStart) / 1000).toFixed(1)} s: ${what}`);
  await restoreEverything(system).catch((err: Error) => problems.push(`settle: a part could not be started again: ${err.message.split('\n')[0]}`));
  await load.quiesce();
  step('every part up, load stopped');
  const flowsDone = async (): Promise<boolean> => checkFlows(await kvEntries(system.admin.nc, 'flows'), load.accepted).acceptedUnfinished === 0;
  await waitFor(flowsDone, 20_000, 'accepted commands finished').then(
    () => step('every accepted command finished'),
    () => step('accepted commands still unfinished after 20 s; closing the devices'),
  );
  await load.closeDevices();
  const wsStillOpen = await load.closeWs();
  await waitFor(flowsDone, 15_000, 'accepted commands finished after the devices left').catch(() => undefined);
  const connections = await system.stopConnections();
  step('devices, dashboards and the connections host stopped');
  for (const nc of [fuzzNc.hub, fuzzNc.gateway, fuzzNc.telemetry]) await nc.close().catch(() => {});
  for (const stream of ['CONN', 'COMMANDS', 'TELEMETRY']) {
    await waitFor(() => allConsumersCaughtUp(system.admin.nc, stream), 30_000, `consumers of ${stream} caught up`).catch((err: Error) => problems.push(err.message));
  }
  step('every consumer caught up');
  const hub = await waitFor(async () => {
    const p = await producedByHub(system.httpUrl);
    return Number.isFinite(p.produced) ? p : undefined;
  }, 10_000, 'hub outbox counters');
  const settleMs = Date.now() - settleStart;

  // each read of the log and the buckets is retried: a JetStream API call may time out on a busy cluster
  const readAgain = { attempts: 4, delayMs: (attempt: number) => 1_000 * attempt };
  const records = checkRecords(await retried(() => readAllRecords(system.admin.nc), readAgain), [...producedByConnections(connections), hub]);
  const flows = checkFlows(await retried(() => kvEntries(system.admin.nc, 'flows'), readAgain), load.accepted);
  const projections = await retried(() => checkProjections(system.admin.nc), readAgain);
  const telemetry = await retried(() => checkTelemetry(system.admin.nc, connections), readAgain);
  const crashes = system.ledger.crashes();
  const natsRunning = system.nats.downNodes().length === 0;
  const fuzz = [...tallies.values()];

  problems.push(...records.problems, ...flows.problems, ...projections.problems, ...telemetry.problems);
  if (records.foreign !== natsCounters.connGarbage) problems.push(`conn.>: ${records.foreign} non-record messages stored, ${natsCounters.connGarbage} injected`);
  for (const c of crashes) problems.push(`process ${c.role} (pid ${c.pid}) exited by itself: code ${c.code} signal ${c.signal}\n${c.tail}`);
  if (!natsRunning) problems.push('a NATS node is not running at the end');
  for (const t of fuzz) {
    if (t.untyped > 0) problems.push(`${t.boundary}: ${t.untyped} input(s) without a typed error: ${t.examples.join(' | ')}`);
    if (t.sent === 0) problems.push(`${t.boundary}: no input sent`);
  }
  const faultsSeen = new Set(episodes.map((e) => e.fault));
  for (const f of FAULTS) if (!faultsSeen.has(f)) problems.push(`fault ${f} never ran`);
  if (load.counts.accepted === 0) problems.push('no command was accepted: the load did not run');

  return {
    seed: options.seed,
    topology: system.nats.kind,
    chaosMs,
    settleMs,
    episodes: [...episodes].sort((a, b) => a.atMs - b.atMs),
    load: load.counts,
    fuzz,
    telemetryErrorsSeen,
    records,
    flows,
    projections,
    telemetry,
    crashes,
    wsStillOpen,
    natsRunning,
    problems,
  };
}

/** Starts whatever part is down (after a failed restore, and before the settle period). */
async function restoreEverything(system: ChaosSystem): Promise<void> {
  for (const node of system.nats.downNodes()) await system.nats.restartNode(node).catch(() => undefined);
  while (system.projectors().length < system.projectorTarget) await system.start('projector');
  for (const role of ['gateway', 'rpc-backend', 'esp32-emulator'] as Role[]) if (!system.process(role)?.running) await system.start(role);
}
