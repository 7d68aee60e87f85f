import { Kvm, type KV } from '@nats-io/kv';
import type { Subscription } from '@nats-io/transport-node';
import { startEsp32Emulator, type Esp32Emulator, type Esp32EmulatorOptions } from '../../infra/esp32-emulator/index.ts';
import { parseJsonWith } from '../../services/bus/schemas/parse.ts';
import { transitionRecordSchema, type TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { BUCKETS, subjects } from '../../services/bus/subjects.ts';
import { encodeToken } from '../../services/bus/tokens.ts';
import { startLinkServices, type LinkService } from '../../services/cli/services/linkServices.ts';
import { linkPingReplySchema, type LinkPingReply } from '../../services/esp32-link/linkPing.ts';
import { linkSpecSchema, type LinkSpecInput } from '../../services/esp32-link/linkSpec.ts';
import { meshNodeEntrySchema, meshNodeKey, type MeshNodeEntryValue } from '../../services/projector/reducers/linkRecord.ts';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/** Link timings scaled down for tests (the defaults are minutes). */
export const FAST_LINK: Omit<LinkSpecInput, 'name'> = {
  connectTimeoutMs: 1_000,
  configTimeoutMs: 800,
  heartbeatIntervalMs: 200,
  silentTimeoutMs: 1_000,
  cleanupDelayMs: 200,
  backoffInitialMs: 100,
  backoffMaxMs: 400,
  backoffJitter: 0,
  maxAttempts: 3,
  slowRetryIntervalMs: 500,
  keySyncTimeoutMs: 5_000,
};

export const WAIT_MS = 10_000;

export interface LinkHarness {
  name: string;
  emulator: Esp32Emulator;
  service: LinkService;
  /** Every record of this link seen on `conn.link.<token>.>`, in arrival order. */
  records: TransitionRecord[];
  /** Waits for a record `→ to` (a full state path) after the `after`-th record. */
  waitForRecord(to: string, after?: number, timeoutMs?: number): Promise<TransitionRecord>;
  ping(timeoutMs?: number): Promise<LinkPingReply>;
  /** The link's `mesh_nodes` entries for the emulator's nodes, by key. */
  meshNodes(): Promise<Record<string, MeshNodeEntryValue>>;
  /** Waits until the link's `actors` entry shows `state`. */
  waitForActorState(state: string): Promise<void>;
  stop(): Promise<void>;
}

let counter = 0;

/** A real emulator on a free port and one link service (user `link`, real outbox) pointed at it. */
export async function startLinkHarness(
  sys: TestSystem,
  options: { link?: Omit<LinkSpecInput, 'name'>; emulator?: Esp32EmulatorOptions; name?: string } = {},
): Promise<LinkHarness> {
  const name = options.name ?? `radio-${process.pid}-${++counter}`;
  const emulator = await startEsp32Emulator({ port: 0, ...options.emulator });
  const records: TransitionRecord[] = [];
  const sub: Subscription = sys.admin.nc.subscribe(`conn.link.${encodeToken(name)}.>`, {
    callback: (_err, msg) => {
      const parsed = parseJsonWith(transitionRecordSchema, 'record', msg.data);
      if (parsed.ok) records.push(parsed.value);
    },
  });
  await sys.admin.nc.flush();
  let kv: KV | undefined;
  let stopped = false;
  const spec = linkSpecSchema.parse({ name, host: '127.0.0.1', port: emulator.port, ...FAST_LINK, ...options.link });
  const [service] = await startLinkServices(sys.endpoint, sys.config, [spec]);
  const h: LinkHarness = {
    name,
    emulator,
    service: service!,
    records,
    waitForRecord: (to, after = 0, timeoutMs = WAIT_MS) =>
      waitFor(() => records.slice(after).find((r) => r.to === to), timeoutMs, `${name} → ${to} (records: ${records.map((r) => r.to).join(' → ')})`),
    async ping(timeoutMs = 2_000) {
      const reply = await sys.admin.nc.request(subjects.linkPing(name), '', { timeout: timeoutMs });
      const parsed = parseJsonWith(linkPingReplySchema, 'ping reply', reply.data);
      if (!parsed.ok) throw parsed.error;
      return parsed.value;
    },
    async meshNodes() {
      // direct gets of the radio's nodes: listing keys while the projector writes can stall
      kv ??= await new Kvm(sys.admin.nc).open(BUCKETS.meshNodes);
      const mine: Record<string, MeshNodeEntryValue> = {};
      for (const node of emulator.nodes()) {
        const key = meshNodeKey(name, node.num);
        const entry = await kv.get(key);
        if (entry?.operation === 'PUT') mine[key] = meshNodeEntrySchema.parse(entry.json());
      }
      return mine;
    },
    async waitForActorState(state) {
      const actors = await new Kvm(sys.admin.nc).open(BUCKETS.actors);
      await waitFor(
        async () => ((await actors.get(`link.${encodeToken(name)}`))?.json<{ state?: string }>().state === state ? true : undefined),
        WAIT_MS,
        `actors entry of ${name}: ${state}`,
      );
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await service?.stop();
      sub.unsubscribe();
      await emulator.close();
    },
  };
  return h;
}

/** Waits until `mesh_nodes` holds `count` entries of the link (optionally matching `check`). */
export async function waitForMeshNodes(
  h: LinkHarness,
  count: number,
  check: (entries: MeshNodeEntryValue[]) => boolean = () => true,
): Promise<MeshNodeEntryValue[]> {
  return waitFor(
    async () => {
      const entries = Object.values(await h.meshNodes());
      return entries.length === count && check(entries) ? entries : undefined;
    },
    WAIT_MS,
    `${count} mesh_nodes entries of ${h.name}`,
  );
}

/**
 * The hooks of a link test file: one real system (nats-server, projector, hub; no device
 * gateway) for the file, a fresh emulator and link per test, stopped after it.
 */
export function linkTestFile() {
  let sys: TestSystem | undefined;
  let started: LinkHarness[] = [];
  beforeAll(async () => {
    sys = await startTestSystem({ gateway: false });
  });
  afterEach(async () => {
    await Promise.all(started.map((h) => h.stop()));
    started = [];
  });
  afterAll(async () => {
    await sys?.stop();
  });
  return {
    sys: (): TestSystem => sys!,
    start: async (options?: Parameters<typeof startLinkHarness>[1]): Promise<LinkHarness> => {
      const h = await startLinkHarness(sys!, options);
      started.push(h);
      return h;
    },
  };
}
