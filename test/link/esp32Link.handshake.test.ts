import { Kvm } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { keyFromSeed } from '../../infra/esp32-emulator/index.ts';
import { connectAs } from '../../services/cli/natsEndpoint.ts';
import { dumpProjections, replayToMemory } from '../../services/projector/replay.ts';
import { waitFor } from '../support/waitFor.ts';
import { linkTestFile, waitForMeshNodes, WAIT_MS } from './linkHarness.ts';

/**
 * The ESP32 link end to end: a real emulator on a TCP port, the link service (its own
 * NATS user and outbox), a real nats-server, the projector writing `mesh_nodes` and
 * `actors`. No mock stands in for a socket or for NATS.
 */

const file = linkTestFile();

describe('ESP32 link: handshake and key sync', () => {
  it('handshakes with 41 nodes with 32-byte keys, syncs, and the projections show it', async () => {
    const h = await file.start({ emulator: { nodes: 41 } });
    const synced = await h.waitForRecord('ready.synced');
    expect(h.records.map((r) => r.to)).toEqual(['connecting', 'configuring', 'ready.syncPending', 'ready.syncing', 'ready.synced']);
    expect(synced.context.last_sync).toMatchObject({ outcome: 'synced', counts: { total: 41, added: 41 } });
    expect(h.emulator.stats.wantConfigs).toHaveLength(1);
    const nonce = h.emulator.stats.wantConfigs[0]!;
    expect([0, 69420, 69421]).not.toContain(nonce);
    expect(h.records[1]!.context.nonce).toBe(nonce);

    const entries = await waitForMeshNodes(h, 41, (e) => e.every((n) => n.public_key !== null));
    const byNum = new Map(entries.map((e) => [e.num, e]));
    for (const node of h.emulator.nodes()) {
      const entry = byNum.get(node.num)!;
      expect(Buffer.from(entry.public_key!, 'base64')).toEqual(Buffer.from(node.publicKey));
      expect(entry).toMatchObject({ link: h.name, long_name: node.longName, short_name: node.shortName, key_changed: false, reported_key: null });
      expect(entry.last_heard).toBe(new Date(node.lastHeard * 1000).toISOString());
    }
    await h.waitForActorState('ready.synced');
    const reply = await h.ping();
    expect(reply).toMatchObject({ ok: true, link: h.name, state: 'ready.synced', nodes: 41, keys: 41 });

    // the projections are what a replay of the log rebuilds
    const [live, replayed] = await Promise.all([dumpProjections(file.sys().admin.nc), replayToMemory(file.sys().admin.nc)]);
    expect(replayed.mesh_nodes).toEqual(live.mesh_nodes);
  });

  it('resyncs through log text, noise, oversized headers, a stale complete and an unknown variant', async () => {
    const h = await file.start({ emulator: { nodes: 40, mode: 'garbage' } });
    const synced = await h.waitForRecord('ready.synced');
    expect(synced.context.nodes).toBe(40);
    const stats = h.service.link.stats;
    expect(stats.garbageBytes).toBeGreaterThan(1_000);
    expect(stats.oversizedHeaders).toBeGreaterThan(40);
    expect(h.service.link.hosted.actor.getSnapshot().context.stats).toMatchObject({ staleCompletes: 1 });
    expect(h.records.filter((r) => r.to === 'reconnecting')).toEqual([]);
  });

  it('stall before config complete: no sync is ever attempted, CONFIG_TIMEOUT is reported, the link reconnects', async () => {
    const h = await file.start({ emulator: { nodes: 40, mode: 'stall', stallAfterNodes: 25 } });
    const timedOut = await h.waitForRecord('reconnecting');
    expect(timedOut.from).toBe('configuring');
    expect(timedOut.error).toMatchObject({ code: 'CONFIG_TIMEOUT', details: { nodes_received: 25, my_info: true } });
    await waitFor(() => h.emulator.stats.wantConfigs.length >= 2, WAIT_MS, 'a second handshake');
    expect(h.records.some((r) => r.to.startsWith('ready'))).toBe(false);
    expect(await h.meshNodes()).toEqual({});
    // once the radio behaves, the same link gets there
    h.emulator.setMode('normal');
    await h.waitForRecord('ready.synced');
  });

  it('drop mid-config: no partial node database, anywhere', async () => {
    const h = await file.start({ emulator: { nodes: 40, mode: 'drop-mid-config', dropAfterNodes: 20 } });
    const dropped = await h.waitForRecord('reconnecting');
    expect(dropped).toMatchObject({ from: 'configuring', error: { code: 'SOCKET_CLOSED', details: { nodes_received: 20 } } });
    expect(dropped.context.nodes).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(await h.meshNodes()).toEqual({});
    expect(h.records.every((r) => (r.context.node_changes as unknown[]).length === 0)).toBe(true);
    h.emulator.setMode('normal');
    await h.waitForRecord('ready.synced');
    await waitForMeshNodes(h, 40);
  });

  it('a changed key is flagged on the next handshake, never silently overwritten', async () => {
    const h = await file.start({ emulator: { nodes: 40 } });
    await h.waitForRecord('ready.synced');
    await waitForMeshNodes(h, 40);
    const victim = h.emulator.nodes()[7]!;
    const newKey = keyFromSeed(4242);
    h.emulator.updateNodes({ ...victim, publicKey: newKey });
    const before = h.records.length;
    h.emulator.kick();
    const resynced = await h.waitForRecord('ready.synced', before);
    expect(resynced.context.last_sync).toMatchObject({ counts: { total: 40, skipped: 39, changed: 1 }, flagged: [victim.num] });
    const entry = (await waitForMeshNodes(h, 40, (e) => e.some((n) => n.key_changed))).find((e) => e.num === victim.num)!;
    expect(entry.public_key).toBe(Buffer.from(victim.publicKey).toString('base64'));
    expect(entry.reported_key).toBe(Buffer.from(newKey).toString('base64'));
    expect(entry.key_changed).toBe(true);
  });

  it('a restarted link starts from the key store its earlier runs recorded: nothing re-added, a flag kept', async () => {
    const first = await file.start({ emulator: { nodes: 10 } });
    await first.waitForRecord('ready.synced');
    const victim = first.emulator.nodes()[3]!;
    first.emulator.updateNodes({ ...victim, publicKey: keyFromSeed(99) });
    const before = first.records.length;
    first.emulator.kick();
    await first.waitForRecord('ready.synced', before);
    await waitForMeshNodes(first, 10, (e) => e.some((n) => n.key_changed));
    await first.stop();

    // a new run of the same link, to a radio reporting the original keys again
    const again = await file.start({ emulator: { nodes: 10 }, name: first.name });
    const synced = await again.waitForRecord('ready.synced');
    expect(synced.incarnation).not.toBe(first.records[0]!.incarnation);
    expect(synced.context.last_sync).toMatchObject({ counts: { total: 10, added: 0, skipped: 10 } });
    const entries = await waitForMeshNodes(again, 10, (e) => e.every((n) => n.incarnation === synced.incarnation));
    expect(entries.find((e) => e.num === victim.num)).toMatchObject({ key_changed: true, reported_key: Buffer.from(keyFromSeed(99)).toString('base64') });
  });

  it('answers ping requests and handles packets while it syncs', async () => {
    // 40 nodes, 4 at a time with 80 ms pauses: the sync takes ~800 ms
    const h = await file.start({ emulator: { nodes: 40 }, link: { keySyncChunkSize: 4, keySyncPauseMs: 80 } });
    await h.waitForRecord('ready.syncing');
    const sender = h.emulator.nodes()[3]!.num;
    const replies = [];
    for (let i = 0; i < 4; i++) {
      h.emulator.sendTextPacket(sender, `during sync ${i}`);
      const started = Date.now();
      replies.push({ reply: await h.ping(500), ms: Date.now() - started });
    }
    const syncing = replies.filter((r) => r.reply.state === 'ready.syncing');
    expect(syncing.length).toBeGreaterThanOrEqual(2);
    for (const r of syncing) expect(r.ms).toBeLessThan(100);
    expect(syncing.at(-1)!.reply.packets).toBeGreaterThanOrEqual(syncing.length);
    const synced = await h.waitForRecord('ready.synced');
    expect(synced.context.last_sync).toMatchObject({ counts: { total: 40 } });
    expect((synced.context.last_sync as { duration_ms: number }).duration_ms).toBeGreaterThanOrEqual(700);
  });

  it('NATS user `link` reads mesh_nodes but cannot write it (the projector does)', async () => {
    const bus = await connectAs(file.sys().endpoint, 'link', 'test-link-user', 5_000);
    try {
      const kv = await new Kvm(bus.nc).open('mesh_nodes');
      await expect(kv.keys()).resolves.toBeDefined();
      const started = Date.now();
      await expect(kv.put('intruder.1', '{}')).rejects.toThrow(/Permissions Violation for Publish to "\$KV\.mesh_nodes\.intruder\.1"/);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await bus.close();
    }
  });
});
