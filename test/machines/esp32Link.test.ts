import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock, type AnyActorLogic } from 'xstate';
import {
  DEFAULT_LINK_TIMING,
  esp32LinkMachine,
  newNonce,
  reconnectDelayMs,
  SPECIAL_NONCE_ONLY_CONFIG,
  SPECIAL_NONCE_ONLY_NODES,
  summarizeEsp32Link,
  type Esp32LinkEvent,
  type KeySyncInput,
  type LinkTiming,
  type RadioCommand,
  type RadioFrame,
  type RadioInput,
} from '../../machines/esp32Link.ts';
import { nodeIdOf, reconcileKeys, type KeyStore, type KeySyncResult, type MeshNode } from '../../machines/lib/keySync.ts';
import { statePath } from '../../services/runtime/statePath.ts';
import { hostActor } from '../../services/runtime/host.ts';
import type { TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';

// ---------------------------------------------------------------------------------------
// Harness: the machine with a recording `radio` actor, driven by a SimulatedClock.
// ---------------------------------------------------------------------------------------

const T: LinkTiming = {
  ...DEFAULT_LINK_TIMING,
  connectTimeoutMs: 1_000,
  configTimeoutMs: 5_000,
  heartbeatIntervalMs: 2_000,
  silentTimeoutMs: 7_000,
  cleanupDelayMs: 3_000,
  backoffInitialMs: 100,
  backoffMaxMs: 1_000,
  backoffFactor: 2,
  backoffJitter: 0,
  maxAttempts: 3,
  slowRetryIntervalMs: 10_000,
  keySyncDelayMs: 0,
  keySyncTimeoutMs: 4_000,
  keySyncRetryMs: 20_000,
};

function key(seed: number, bytes = 32): string {
  return Buffer.from(Array.from({ length: bytes }, (_, i) => (seed * 31 + i * 7) & 0xff)).toString('base64');
}

function node(num: number, extra: Partial<MeshNode> = {}): MeshNode {
  return { num, id: nodeIdOf(num), longName: `Node ${num}`, shortName: `N${num % 100}`, hwModel: 43, publicKey: key(num), lastHeard: 1_700_000_000 + num, ...extra };
}

interface HarnessOptions {
  timing?: Partial<LinkTiming>;
  storedKeys?: KeyStore;
  random?: () => number;
  /** Replaces the pure key sync (e.g. one that never finishes). */
  keySync?: AnyActorLogic;
}

function link(options: HarnessOptions = {}) {
  const clock = new SimulatedClock();
  const commands: Array<RadioCommand & { at: number }> = [];
  const spawned: Array<RadioInput & { at: number }> = [];
  const disposed: number[] = [];
  const pings: Array<{ requestId: string; state: string }> = [];
  const syncInputs: KeySyncInput[] = [];
  let rnd = 0.123;
  let lastChanges: unknown;
  const random = options.random ?? (() => (rnd = (rnd * 9301 + 0.49297) % 1));

  const radioConnection = fromCallback<RadioCommand, RadioInput>(({ input, receive }) => {
    spawned.push({ ...input, at: clock.now() });
    receive((command) => commands.push({ ...command, at: clock.now() }));
    return () => disposed.push(clock.now());
  });
  const recordingSync = fromPromise<KeySyncResult, KeySyncInput>(async ({ input }) => {
    syncInputs.push(input);
    return reconcileKeys(input.nodes, input.stored);
  });
  const machine = esp32LinkMachine.provide({
    actors: { radioConnection, keySync: (options.keySync ?? recordingSync) as typeof recordingSync },
    actions: {
      replyPing: ({ self }, { requestId }) => {
        pings.push({ requestId, state: statePath(self.getSnapshot().value) });
      },
    },
  });
  /** node_changes of every microstep that had any, in order (what the records carry). */
  const changes: number[][] = [];
  const actor = createActor(machine, {
    inspect: (e) => {
      if (e.type !== '@xstate.microstep' || e.actorRef !== actor) return;
      const nc = (e.snapshot as ReturnType<typeof actor.getSnapshot>).context.nodeChanges;
      if (nc.length > 0 && nc !== lastChanges) changes.push(nc.map((c) => c.num));
      lastChanges = nc;
    },
    input: {
      linkId: 'radio',
      host: '127.0.0.1',
      port: 4403,
      timing: { ...T, ...options.timing },
      ...(options.storedKeys ? { storedKeys: options.storedKeys } : {}),
      now: () => clock.now(),
      random,
    },
    clock,
  });
  actor.start();

  const h = {
    clock,
    actor,
    commands,
    spawned,
    disposed,
    pings,
    syncInputs,
    changes,
    ctx: () => actor.getSnapshot().context,
    state: (): string => statePath(actor.getSnapshot().value),
    send: (event: Esp32LinkEvent): void => actor.send(event),
    frame: (frame: RadioFrame): void => actor.send({ type: 'radio.frame', frame }),
    nonce: (): number => {
      const last = [...commands].reverse().find((c) => c.type === 'radio.wantConfig');
      if (!last || last.type !== 'radio.wantConfig') throw new Error('no want_config sent');
      return last.nonce;
    },
    heartbeats: (): number[] => commands.filter((c) => c.type === 'radio.heartbeat').map((c) => c.at),
    advance: (ms: number, step = 1): void => {
      for (let left = ms; left > 0; ) {
        const d = Math.min(step, left);
        clock.increment(d);
        left -= d;
      }
    },
    /** Lets promise-based actors (key sync) settle. */
    settle: async (): Promise<void> => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      clock.increment(0);
    },
    /** connected → full handshake with `nodes` → ready (sync pending, not yet run). */
    handshake: (nodes: MeshNode[], myNodeNum = 0x0a0b0c0d): void => {
      if (h.state() === 'connecting') actor.send({ type: 'radio.connected' });
      h.frame({ kind: 'myInfo', myNodeNum, rebootCount: 2 });
      for (const n of nodes) h.frame({ kind: 'nodeInfo', node: n });
      h.frame({ kind: 'configPart', part: 'config' });
      h.frame({ kind: 'configComplete', id: h.nonce() });
    },
    /** handshake, then let the key sync run. */
    ready: async (nodes: MeshNode[]): Promise<void> => {
      h.handshake(nodes);
      h.clock.increment(0);
      await h.settle();
    },
    /** Advances time while the radio answers every heartbeat (so silence never fires). */
    advanceAlive: (ms: number): void => {
      for (let left = ms; left > 0; ) {
        const d = Math.min(1_000, left);
        h.advance(d);
        left -= d;
        h.frame({ kind: 'other', variant: 'queueStatus' });
      }
    },
  };
  return h;
}

const nodes40 = Array.from({ length: 40 }, (_, i) => node(1000 + i));

// ---------------------------------------------------------------------------------------

describe('esp32Link: connecting and the handshake', () => {
  it('spawns the radio connection, and on connect asks for the config with a fresh nonce', () => {
    const h = link();
    expect(h.state()).toBe('connecting');
    expect(h.spawned).toEqual([{ linkId: 'radio', host: '127.0.0.1', port: 4403, at: 0 }]);
    h.send({ type: 'radio.connected' });
    expect(h.state()).toBe('configuring');
    const nonce = h.nonce();
    expect(nonce).toBeGreaterThan(0);
    expect(h.ctx().nonce).toBe(nonce);
  });

  it('is ready only when config_complete_id equals the nonce; stale completes and unknown variants are ignored', () => {
    const h = link();
    h.send({ type: 'radio.connected' });
    const nonce = h.nonce();
    h.frame({ kind: 'configComplete', id: nonce ^ 0x5a5a });
    h.frame({ kind: 'other', variant: 'unknown(99)' });
    h.frame({ kind: 'other', variant: 'logRecord' });
    expect(h.state()).toBe('configuring');
    h.frame({ kind: 'nodeInfo', node: node(7) });
    h.frame({ kind: 'configComplete', id: nonce });
    expect(h.state()).toBe('ready.syncing'); // keySyncDelay 0: the sync starts in the same step
    expect(Object.keys(h.ctx().nodes)).toEqual(['7']);
    expect(h.ctx().stats.staleCompletes).toBe(1);
  });

  it('does not depend on the order of the frames: any order of 40+ node infos, configs and noise gives the same database', () => {
    const frames: RadioFrame[] = [
      { kind: 'myInfo', myNodeNum: 99, rebootCount: 1 },
      ...nodes40.map((n) => ({ kind: 'nodeInfo' as const, node: n })),
      ...Array.from({ length: 8 }, () => ({ kind: 'configPart' as const, part: 'channel' })),
      { kind: 'configPart', part: 'metadata' },
      { kind: 'other', variant: 'queueStatus' },
      { kind: 'other', variant: 'unknown(42)' },
    ];
    fc.assert(
      fc.property(fc.shuffledSubarray(frames, { minLength: frames.length, maxLength: frames.length }), fc.integer({ min: 1, max: 3 }), (order, stale) => {
        const h = link();
        h.send({ type: 'radio.connected' });
        const nonce = h.nonce();
        order.forEach((f, i) => {
          h.frame(f);
          if (i % 17 === 0) for (let s = 0; s < stale; s++) h.frame({ kind: 'configComplete', id: (nonce + 1 + s) >>> 0 });
        });
        expect(h.state()).toBe('configuring');
        h.frame({ kind: 'configComplete', id: nonce });
        expect(h.state()).toBe('ready.syncing');
        const c = h.ctx();
        expect(Object.keys(c.nodes)).toHaveLength(40);
        expect(c.nodes['1007']).toEqual(nodes40[7]);
        expect(c.myInfo).toEqual({ myNodeNum: 99, rebootCount: 1 });
        expect(h.changes).toEqual([nodes40.map((n) => n.num)]); // published once, whole, at the swap
      }),
      { numRuns: 50 },
    );
  });

  it('never picks 0, a special nonce (69420, 69421) or the previous nonce', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.option(fc.integer({ min: 1, max: 0xffff_ffff }), { nil: null }), (r, previous) => {
        const n = newNonce(() => r, previous);
        expect(Number.isInteger(n)).toBe(true);
        expect(n).toBeGreaterThanOrEqual(1);
        expect(n).toBeLessThanOrEqual(0xffff_ffff);
        expect([SPECIAL_NONCE_ONLY_CONFIG, SPECIAL_NONCE_ONLY_NODES, previous]).not.toContain(n);
      }),
    );
    const special = SPECIAL_NONCE_ONLY_CONFIG - 1;
    expect(newNonce(() => special / 0xffff_ffff + 1e-12, null)).not.toBe(SPECIAL_NONCE_ONLY_CONFIG);
    expect(newNonce(() => 0.5, newNonce(() => 0.5, null))).not.toBe(newNonce(() => 0.5, null));
  });
});

describe('esp32Link: the node database is swapped in one step', () => {
  it('a handshake cut short (drop mid-config) leaves the previous database untouched and publishes nothing', () => {
    const h = link();
    h.handshake(nodes40.slice(0, 10));
    expect(Object.keys(h.ctx().nodes)).toHaveLength(10);
    h.send({ type: 'radio.closed', code: 'SOCKET_RESET', message: 'read ECONNRESET' });
    expect(h.state()).toBe('reconnecting');
    h.advance(T.cleanupDelayMs);
    h.send({ type: 'radio.connected' });
    for (const n of nodes40.slice(10, 25)) h.frame({ kind: 'nodeInfo', node: n });
    expect(Object.keys(h.ctx().nodes)).toHaveLength(10); // not filled halfway
    h.send({ type: 'radio.closed', code: 'SOCKET_RESET', message: 'read ECONNRESET' });
    expect(h.state()).toBe('reconnecting');
    expect(h.ctx().error).toMatchObject({ code: 'SOCKET_RESET', details: { nodes_received: 15, my_info: false } });
    expect(Object.keys(h.ctx().nodes).map(Number)).toEqual(nodes40.slice(0, 10).map((n) => n.num));
    expect(h.ctx().nodeChanges).toEqual([]);
    expect(h.ctx().failures).toBe(1);
  });

  it('replaces (not merges) the database at the next complete handshake', () => {
    const h = link();
    h.handshake(nodes40.slice(0, 10));
    h.send({ type: 'radio.closed', code: 'SOCKET_CLOSED', message: 'closed' });
    h.advance(T.cleanupDelayMs);
    h.handshake(nodes40.slice(5, 8));
    expect(Object.keys(h.ctx().nodes).map(Number)).toEqual([1005, 1006, 1007]);
  });
});

describe('esp32Link: what a record publishes of the node database', () => {
  it('a handshake publishes only the nodes that differ from what this run published before', async () => {
    const h = link();
    await h.ready(nodes40.slice(0, 5));
    h.send({ type: 'radio.closed', code: 'SOCKET_CLOSED', message: 'closed' });
    h.advance(T.cleanupDelayMs);
    h.send({ type: 'radio.connected' });
    for (const n of nodes40.slice(0, 5)) h.frame({ kind: 'nodeInfo', node: n.num === 1002 ? { ...n, lastHeard: n.lastHeard + 60 } : n });
    const before = h.changes.length;
    h.frame({ kind: 'configComplete', id: h.nonce() });
    await h.settle();
    expect(h.state()).toBe('ready.synced');
    // the swap publishes the one node that changed; the sync nothing (every key skipped)
    expect(h.changes.slice(before)).toEqual([[1002]]);
  });
});

describe('esp32Link: liveness', () => {
  it('sends a heartbeat every heartbeatInterval while configuring and ready', async () => {
    const h = link();
    h.advance(500);
    await h.ready([node(1)]);
    h.advanceAlive(4 * T.heartbeatIntervalMs);
    expect(h.heartbeats()).toEqual([2_500, 4_500, 6_500, 8_500]);
    expect(h.state()).toBe('ready.synced');
  });

  it('no frame for silentTimeout → reconnecting with SILENT, exactly at the deadline; every frame re-arms it', async () => {
    const h = link();
    await h.ready([node(1)]);
    const start = h.clock.now();
    h.advance(T.silentTimeoutMs - 1);
    h.frame({ kind: 'other', variant: 'queueStatus' });
    h.advance(T.silentTimeoutMs - 1);
    expect(h.state()).toBe('ready.synced');
    h.advance(1);
    expect(h.state()).toBe('reconnecting');
    expect(h.clock.now() - start).toBe(2 * T.silentTimeoutMs - 1);
    expect(h.ctx().error).toMatchObject({ code: 'SILENT', retryable: true, component: 'esp32-link' });
    expect(h.disposed).toEqual([h.clock.now()]); // the socket is closed at once
  });

  it('a radio silent during the handshake counts as a failed attempt', () => {
    const h = link({ timing: { configTimeoutMs: 60_000 } });
    h.send({ type: 'radio.connected' });
    h.advance(T.silentTimeoutMs);
    expect(h.state()).toBe('reconnecting');
    expect(h.ctx().error?.code).toBe('SILENT');
    expect(h.ctx().failures).toBe(1);
  });
});

describe('esp32Link: stall before config complete', () => {
  it('never attempts a sync, reports CONFIG_TIMEOUT with the progress, and reconnects', async () => {
    const h = link();
    h.send({ type: 'radio.connected' });
    h.frame({ kind: 'myInfo', myNodeNum: 5, rebootCount: 0 });
    for (const n of nodes40.slice(0, 12)) h.frame({ kind: 'nodeInfo', node: n });
    // the stalled radio still answers heartbeats, so silence never fires
    for (let t = 0; t < T.configTimeoutMs; t += 1_000) {
      h.advance(1_000);
      if (h.state() === 'configuring') h.frame({ kind: 'other', variant: 'queueStatus' });
    }
    await h.settle();
    expect(h.state()).toBe('reconnecting');
    expect(h.ctx().error).toMatchObject({
      code: 'CONFIG_TIMEOUT',
      details: { my_info: true, nodes_received: 12, nonce: h.nonce() },
    });
    expect(h.syncInputs).toEqual([]);
    expect(h.ctx().nodes).toEqual({});
    h.advance(T.cleanupDelayMs);
    expect(h.state()).toBe('connecting');
  });
});

describe('esp32Link: reconnecting and failed', () => {
  it('waits the cleanup delay after an open socket, then backs off exponentially; maxAttempts failures → failed; slow retries heal it', () => {
    const h = link();
    h.handshake([node(1)]);
    h.send({ type: 'radio.closed', code: 'SOCKET_RESET', message: 'reset' });
    const lost = h.clock.now();
    expect(h.ctx().failures).toBe(0); // a lost link is not a failed attempt
    h.advance(T.cleanupDelayMs - 1);
    expect(h.state()).toBe('reconnecting');
    h.advance(1);
    expect(h.state()).toBe('connecting');
    expect(h.clock.now() - lost).toBe(T.cleanupDelayMs);

    const refuse = () => h.send({ type: 'radio.closed', code: 'CONNECT_REFUSED', message: 'connect ECONNREFUSED 127.0.0.1:4403' });
    refuse();
    expect([h.state(), h.ctx().failures]).toEqual(['reconnecting', 1]);
    h.advance(99);
    expect(h.state()).toBe('reconnecting');
    h.advance(1); // backoff 100 ms (no socket was open: no cleanup delay)
    refuse();
    h.advance(199);
    expect(h.state()).toBe('reconnecting');
    h.advance(1); // backoff 200 ms
    expect(h.state()).toBe('connecting');
    refuse();
    expect(h.state()).toBe('failed');
    expect(h.ctx().error).toMatchObject({
      code: 'RECONNECT_EXHAUSTED',
      severity: 'critical',
      details: { attempts: 3, last_error: 'CONNECT_REFUSED', retry_in_ms: T.slowRetryIntervalMs },
    });
    expect(h.ctx().error?.message).toMatch(/3 consecutive attempts .* failed \(last: CONNECT_REFUSED/);

    h.advance(T.slowRetryIntervalMs);
    expect(h.state()).toBe('connecting');
    refuse();
    expect([h.state(), h.ctx().failures]).toEqual(['failed', 4]);
    h.advance(T.slowRetryIntervalMs);
    h.handshake([node(1), node(2)]);
    expect(h.state()).toBe('ready.syncing');
    expect(h.ctx().failures).toBe(0);
    expect(h.ctx().error).toBeNull();
    expect(h.spawned).toHaveLength(6);
    expect(h.disposed).toHaveLength(5);
  });

  it('a connect that hangs is abandoned after connectTimeout', () => {
    const h = link();
    h.advance(T.connectTimeoutMs);
    expect(h.state()).toBe('reconnecting');
    expect(h.ctx().error?.code).toBe('CONNECT_TIMEOUT');
    expect(h.disposed).toEqual([T.connectTimeoutMs]);
  });

  it('reconnect delays: cleanup delay only after an open socket, backoff capped and jittered within bounds', () => {
    const base = { timing: T, random: () => 0.5 };
    expect(reconnectDelayMs({ ...base, failures: 0, socketWasOpen: true })).toBe(3_000);
    expect(reconnectDelayMs({ ...base, failures: 1, socketWasOpen: false })).toBe(100);
    expect(reconnectDelayMs({ ...base, failures: 9, socketWasOpen: false })).toBe(1_000);
    expect(reconnectDelayMs({ ...base, failures: 2, socketWasOpen: true })).toBe(3_000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (failures, r) => {
        const d = reconnectDelayMs({ timing: { ...T, backoffJitter: 0.2 }, random: () => r, failures, socketWasOpen: false });
        const nominal = Math.min(T.backoffMaxMs, T.backoffInitialMs * 2 ** (failures - 1));
        expect(d).toBeGreaterThanOrEqual(Math.floor(nominal * 0.8));
        expect(d).toBeLessThanOrEqual(Math.ceil(nominal * 1.2));
      }),
    );
  });
});

describe('esp32Link: key sync', () => {
  it('starts keySyncDelay after ready, never before', async () => {
    const h = link({ timing: { keySyncDelayMs: 1_500 } });
    h.handshake(nodes40);
    h.advance(1_499);
    await h.settle();
    expect(h.state()).toBe('ready.syncPending');
    expect(h.syncInputs).toHaveLength(0);
    h.advance(1);
    await h.settle();
    expect(h.syncInputs).toHaveLength(1);
    expect(h.syncInputs[0]!.nodes).toHaveLength(40);
    expect(h.state()).toBe('ready.synced');
  });

  it('applies the key rules: added, skipped, kept, rejected, and a changed key flagged, not overwritten', async () => {
    const stored: KeyStore = {
      '1': { publicKey: key(1), keyChanged: false, reportedKey: null },
      '2': { publicKey: key(2), keyChanged: false, reportedKey: null },
      '3': { publicKey: key(3), keyChanged: false, reportedKey: null },
    };
    const h = link({ storedKeys: stored });
    await h.ready([
      node(1), // same key → skipped
      node(2, { publicKey: key(200) }), // different → changed, flagged
      node(3, { publicKey: null }), // none reported → kept
      node(4), // new → added
      node(5, { publicKey: key(5, 16) }), // 16 bytes → rejected
    ]);
    expect(h.state()).toBe('ready.synced');
    const c = h.ctx();
    expect(c.lastSync).toMatchObject({
      outcome: 'synced',
      counts: { total: 5, added: 1, skipped: 1, changed: 1, kept: 1, rejected: 1, none: 0 },
      flagged: [2],
    });
    expect(c.keys['2']).toEqual({ publicKey: key(2), keyChanged: true, reportedKey: key(200) });
    expect(c.keys['3']).toEqual(stored['3']);
    expect(c.keys['4']).toEqual({ publicKey: key(4), keyChanged: false, reportedKey: null });
    expect(c.keys['5']).toBeUndefined();
    // only the nodes whose stored entry changed are published by the sync
    expect(c.nodeChanges.map((e) => [e.num, e.public_key, e.key_changed, e.reported_key])).toEqual([
      [2, key(2), true, key(200)],
      [4, key(4), false, null],
    ]);
  });

  it('a sync that does not finish within keySyncTimeout → syncFailed (the link stays up), retried later', async () => {
    const never = fromPromise<KeySyncResult, KeySyncInput>(() => new Promise(() => {}));
    const h = link({ keySync: never });
    h.handshake(nodes40);
    h.advance(0);
    await h.settle();
    expect(h.state()).toBe('ready.syncing');
    h.advance(T.keySyncTimeoutMs - 1);
    for (let i = 0; i < 3; i++) h.frame({ kind: 'other', variant: 'queueStatus' });
    expect(h.state()).toBe('ready.syncing');
    h.advance(1);
    expect(h.state()).toBe('ready.syncFailed');
    expect(h.ctx().error).toMatchObject({ code: 'KEY_SYNC_TIMEOUT', severity: 'warning' });
    expect(h.ctx().lastSync).toMatchObject({ outcome: 'timeout', duration_ms: T.keySyncTimeoutMs });
    h.advanceAlive(T.keySyncRetryMs - 1);
    expect(h.state()).toBe('ready.syncFailed');
    h.advance(1);
    expect(h.state()).toBe('ready.syncing');
  });

  it('a failing sync → syncFailed with KEY_SYNC_FAILED', async () => {
    const failing = fromPromise<KeySyncResult, KeySyncInput>(async () => {
      throw new Error('key store unavailable');
    });
    const h = link({ keySync: failing });
    h.handshake([node(1)]);
    h.advance(0);
    await h.settle();
    expect(h.state()).toBe('ready.syncFailed');
    expect(h.ctx().error).toMatchObject({ code: 'KEY_SYNC_FAILED', message: 'key sync failed: key store unavailable' });
  });

  it('never blocks the link: pings are answered, packets and node updates handled while syncing', async () => {
    let finish: ((r: KeySyncResult) => void) | undefined;
    const manual = fromPromise<KeySyncResult, KeySyncInput>(({ input }) =>
      new Promise<KeySyncResult>((resolve) => {
        finish = resolve;
        void input;
      }),
    );
    const h = link({ keySync: manual });
    h.send({ type: 'command.ping', requestId: 'p0' });
    h.handshake(nodes40);
    h.advance(0);
    await h.settle();
    expect(h.state()).toBe('ready.syncing');
    h.send({ type: 'command.ping', requestId: 'p1' });
    h.frame({ kind: 'packet', from: 1003, portnum: 1 });
    h.frame({ kind: 'nodeInfo', node: node(2000) });
    h.send({ type: 'command.ping', requestId: 'p2' });
    expect(h.pings).toEqual([
      { requestId: 'p0', state: 'connecting' },
      { requestId: 'p1', state: 'ready.syncing' },
      { requestId: 'p2', state: 'ready.syncing' },
    ]);
    expect(h.ctx().stats.packets).toBe(1);
    expect(h.ctx().nodes['2000']).toBeDefined();
    finish!({ counts: { total: 40, added: 40, skipped: 0, changed: 0, kept: 0, rejected: 0, none: 0 }, updates: {}, flagged: [] });
    await h.settle();
    expect(h.state()).toBe('ready.synced');
  });

  it('a node update in ready decides its key at once and publishes that node only', async () => {
    const h = link();
    await h.ready([node(1)]);
    expect(h.state()).toBe('ready.synced');
    h.frame({ kind: 'nodeInfo', node: node(1, { publicKey: key(77), longName: 'Renamed' }) });
    expect(h.ctx().keys['1']).toMatchObject({ publicKey: key(1), keyChanged: true, reportedKey: key(77) });
    expect(h.ctx().nodeChanges).toEqual([expect.objectContaining({ num: 1, long_name: 'Renamed', key_changed: true })]);
  });
});

describe('esp32Link: reboot and stop', () => {
  it('a rebooted radio (socket lost) is handshaken and synced again', async () => {
    const h = link();
    await h.ready(nodes40);
    const first = h.nonce();
    h.send({ type: 'radio.closed', code: 'SOCKET_CLOSED', message: 'the radio closed the connection' });
    h.advance(T.cleanupDelayMs);
    await h.ready(nodes40.slice(0, 20));
    expect(h.nonce()).not.toBe(first);
    expect(h.state()).toBe('ready.synced');
    expect(h.syncInputs).toHaveLength(2);
    expect(h.ctx().lastSync?.counts).toMatchObject({ total: 20, skipped: 20 });
  });

  it('FromRadio.rebooted on an open socket → configuring again with a new nonce', () => {
    const h = link();
    h.handshake([node(1)]);
    const first = h.nonce();
    h.frame({ kind: 'rebooted' });
    expect(h.state()).toBe('configuring');
    expect(h.nonce()).not.toBe(first);
    expect(h.spawned).toHaveLength(1); // same socket
  });

  it('link.stop → stopped (final), the socket is closed, pings are no longer answered', () => {
    const h = link();
    h.handshake([node(1)]);
    h.send({ type: 'link.stop' });
    expect(h.state()).toBe('stopped');
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.disposed).toHaveLength(1);
  });
});

describe('esp32Link: transition records', () => {
  it('a 40-node handshake and sync is a handful of records, the swap and the sync publish the nodes', async () => {
    const clock = new SimulatedClock();
    const records: TransitionRecord[] = [];
    const machine = esp32LinkMachine.provide({
      actors: { radioConnection: fromCallback<RadioCommand, RadioInput>(() => () => {}) },
    });
    const hosted = hostActor({
      machine,
      kind: 'link',
      id: 'radio',
      input: { linkId: 'radio', host: '127.0.0.1', port: 4403, timing: T, now: () => clock.now(), random: () => 0.25 },
      sink: { enqueue: (r) => records.push(r) },
      summarize: (s) => summarizeEsp32Link(s.context),
      errorOf: (s) => s.context.error ?? undefined,
      now: () => clock.now(),
      clock,
    });
    hosted.send({ type: 'radio.connected' });
    const nonce = hosted.actor.getSnapshot().context.nonce!;
    for (const n of nodes40) hosted.send({ type: 'radio.frame', frame: { kind: 'nodeInfo', node: n } });
    hosted.send({ type: 'radio.frame', frame: { kind: 'configComplete', id: nonce } });
    clock.increment(0);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(records.map((r) => r.to)).toEqual(['connecting', 'configuring', 'ready.syncPending', 'ready.syncing', 'ready.synced']);
    expect((records[2]!.context.node_changes as unknown[]).length).toBe(40);
    expect(records[3]!.context.node_changes).toEqual([]);
    expect((records[4]!.context.node_changes as unknown[]).length).toBe(40); // every key was new
    expect(records[4]!.context.last_sync).toMatchObject({ outcome: 'synced', counts: { added: 40 } });
    hosted.stop();
  });
});
