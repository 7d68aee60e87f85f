import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/waitFor.ts';
import { FAST_LINK, linkTestFile, waitForMeshNodes, WAIT_MS } from './linkHarness.ts';

/** Silence, reboots, a radio that disappears and comes back, a second client: real sockets, real NATS. */

const file = linkTestFile();
const at = (iso: string): number => Date.parse(iso);

describe('ESP32 link: recovery', () => {
  it('a radio that goes silent (half-open socket) is detected within silentTimeout + 1 s and the link reconnects', async () => {
    const h = await file.start({ emulator: { nodes: 40 } });
    await h.waitForRecord('ready.synced');
    const before = h.records.length;
    const silencedAt = Date.now();
    h.emulator.goSilent();
    const lost = await h.waitForRecord('reconnecting', before);
    const detectedMs = at(lost.at) - silencedAt;
    expect(lost.error).toMatchObject({ code: 'SILENT' });
    expect(detectedMs).toBeLessThanOrEqual(FAST_LINK.silentTimeoutMs! + 1_000);
    // the last heartbeat answer came at most one heartbeat interval before the silence
    expect(detectedMs).toBeGreaterThanOrEqual(FAST_LINK.silentTimeoutMs! - FAST_LINK.heartbeatIntervalMs! - 50);
    const back = await h.waitForRecord('ready.synced', before);
    expect(at(back.at) - at(lost.at)).toBeGreaterThanOrEqual(FAST_LINK.cleanupDelayMs!);
    expect(h.emulator.stats.connections).toBe(2);
    expect(h.emulator.stats.wantConfigs).toHaveLength(2);
  });

  it('a reboot: the link re-handshakes with a new nonce and re-syncs', async () => {
    const h = await file.start({ emulator: { nodes: 40 } });
    const first = await h.waitForRecord('ready.synced');
    const before = h.records.length;
    await h.emulator.reboot(400);
    const again = await h.waitForRecord('ready.synced', before);
    const path = h.records.slice(before).map((r) => r.to);
    expect(path[0]).toBe('reconnecting');
    expect(path).toContain('configuring');
    expect(again.context.reboot_count).toBe((first.context.reboot_count as number) + 1);
    expect(again.context.nonce).not.toBe(first.context.nonce);
    expect(again.context.last_sync).toMatchObject({ counts: { total: 40, skipped: 40 } });
    expect(h.emulator.stats.wantConfigs).toHaveLength(2);
    await waitForMeshNodes(h, 40);
  });

  it('three failed connects → failed with a clear error, then healed when the radio returns', async () => {
    const h = await file.start({ emulator: { nodes: 40 } });
    await h.waitForRecord('ready.synced');
    const before = h.records.length;
    await h.emulator.powerOff();
    const failed = await h.waitForRecord('failed', before);
    const attempts = h.records.slice(before).filter((r) => r.from === 'connecting');
    expect(attempts.map((r) => [r.to, r.error?.code])).toEqual([
      ['reconnecting', 'CONNECT_REFUSED'],
      ['reconnecting', 'CONNECT_REFUSED'],
      ['failed', 'RECONNECT_EXHAUSTED'],
    ]);
    expect(failed.error).toMatchObject({ severity: 'critical', details: { attempts: 3, last_error: 'CONNECT_REFUSED' } });
    expect(failed.error!.message).toContain(`${h.emulator.host}:${h.emulator.port}`);
    await h.waitForActorState('failed');
    expect((await h.ping()).state).toBe('failed');

    await h.emulator.start();
    const healed = await h.waitForRecord('ready.synced', before);
    expect(healed.context.failures).toBe(0);
    await h.waitForActorState('ready.synced');
  });

  it('one client at a time: a second client kicks the link, which comes back after its cleanup delay', async () => {
    const h = await file.start({ emulator: { nodes: 10 } });
    await h.waitForRecord('ready.synced');
    const before = h.records.length;
    const intruder = net.connect({ host: h.emulator.host, port: h.emulator.port });
    intruder.on('error', () => {});
    const kicked = await h.waitForRecord('reconnecting', before);
    expect(kicked.error?.code).toMatch(/SOCKET_CLOSED|SOCKET_RESET/);
    await h.waitForRecord('ready.synced', before);
    await waitFor(() => intruder.destroyed || intruder.readableEnded, WAIT_MS, 'the intruder kicked in turn');
    expect(h.emulator.stats.kicked).toBe(2);
    intruder.destroy();
  });
});
