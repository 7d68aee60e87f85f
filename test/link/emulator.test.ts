import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SPECIAL_NONCE_ONLY_CONFIG, SPECIAL_NONCE_ONLY_NODES, type RadioFrame } from '../../machines/esp32Link.ts';
import { parseEmulatorArgs, runEmulatorCommand } from '../../infra/esp32-emulator/cli.ts';
import { startEsp32Emulator, type Esp32Emulator } from '../../infra/esp32-emulator/index.ts';
import { createDeframer } from '../../services/esp32-link/framing.ts';
import { decodeFromRadio, encodeRadioCommand, radioFrameOf } from '../../services/esp32-link/radioProtocol.ts';
import { waitFor } from '../support/waitFor.ts';

/** A raw TCP client speaking the Meshtastic stream API to the emulator. */
async function client(emulator: Esp32Emulator) {
  const socket = net.connect({ host: emulator.host, port: emulator.port });
  const frames: RadioFrame[] = [];
  let closed = false;
  const deframer = createDeframer({ accept: (p) => decodeFromRadio(p) !== null });
  socket.on('data', (chunk: Buffer) => {
    for (const e of deframer.push(chunk)) if (e.type === 'frame') frames.push(radioFrameOf(decodeFromRadio(e.payload)!));
  });
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    frames,
    isClosed: () => closed,
    wantConfig: (nonce: number) => socket.write(encodeRadioCommand({ type: 'radio.wantConfig', nonce })),
    heartbeat: () => socket.write(encodeRadioCommand({ type: 'radio.heartbeat' })),
    complete: (nonce: number) => waitFor(() => frames.some((f) => f.kind === 'configComplete' && f.id === nonce), 5_000, `config_complete ${nonce}`),
  };
}

let emulator: Esp32Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

describe('ESP32 emulator', () => {
  it("answers want_config with the firmware's dump, in its order, ending with config_complete_id = nonce", async () => {
    emulator = await startEsp32Emulator({ port: 0, nodes: 12 });
    const c = await client(emulator);
    c.wantConfig(123_456);
    await c.complete(123_456);
    const kinds = c.frames.map((f) => (f.kind === 'configPart' ? f.part : f.kind));
    expect(kinds[0]).toBe('myInfo');
    expect(kinds[1]).toBe('nodeInfo');
    expect(kinds.at(-1)).toBe('configComplete');
    expect(kinds.filter((k) => k === 'nodeInfo')).toHaveLength(12);
    expect(kinds.filter((k) => k === 'channel')).toHaveLength(8);
    expect(kinds.filter((k) => k === 'config').length).toBeGreaterThanOrEqual(8);
    const nodes = c.frames.flatMap((f) => (f.kind === 'nodeInfo' ? [f.node] : []));
    expect(nodes.map((n) => n.num)).toEqual(emulator.nodes().map((n) => n.num));
    expect(nodes.every((n) => n.publicKey !== null && Buffer.from(n.publicKey, 'base64').length === 32)).toBe(true);
    c.heartbeat();
    await waitFor(() => c.frames.some((f) => f.kind === 'other' && f.variant === 'queueStatus'), 5_000, 'queueStatus');
    c.socket.destroy();
  });

  it('honours the special nonces as the firmware does: 69421 nodes only, 69420 no other nodes', async () => {
    emulator = await startEsp32Emulator({ port: 0, nodes: 5 });
    const c = await client(emulator);
    c.wantConfig(SPECIAL_NONCE_ONLY_NODES);
    await c.complete(SPECIAL_NONCE_ONLY_NODES);
    expect(c.frames.map((f) => f.kind)).toEqual(['nodeInfo', 'nodeInfo', 'nodeInfo', 'nodeInfo', 'nodeInfo', 'configComplete']);
    c.frames.length = 0;
    c.wantConfig(SPECIAL_NONCE_ONLY_CONFIG);
    await c.complete(SPECIAL_NONCE_ONLY_CONFIG);
    expect(c.frames.filter((f) => f.kind === 'nodeInfo')).toHaveLength(1);
    c.socket.destroy();
  });

  it('serves one client at a time: a second connection kicks the first', async () => {
    emulator = await startEsp32Emulator({ port: 0, nodes: 3 });
    const first = await client(emulator);
    const second = await client(emulator);
    await waitFor(() => first.isClosed(), 5_000, 'first client kicked');
    expect(second.isClosed()).toBe(false);
    expect(emulator.stats.kicked).toBe(1);
    second.wantConfig(9);
    await second.complete(9);
    second.socket.destroy();
  });

  it('stall sends no config complete; drop-mid-config closes after N node infos', async () => {
    emulator = await startEsp32Emulator({ port: 0, nodes: 10, mode: 'stall', stallAfterNodes: 4 });
    const stalled = await client(emulator);
    stalled.wantConfig(77);
    await waitFor(() => stalled.frames.filter((f) => f.kind === 'nodeInfo').length === 4, 5_000, '4 node infos');
    await new Promise((r) => setTimeout(r, 150));
    expect(stalled.frames.some((f) => f.kind === 'configComplete')).toBe(false);
    stalled.heartbeat();
    await waitFor(() => stalled.frames.some((f) => f.kind === 'other' && f.variant === 'queueStatus'), 5_000, 'a stalled radio still answers heartbeats');
    stalled.socket.destroy();

    emulator.setMode('drop-mid-config');
    const dropped = await client(emulator);
    dropped.wantConfig(78);
    await waitFor(() => dropped.isClosed(), 5_000, 'dropped');
    expect(dropped.frames.filter((f) => f.kind === 'nodeInfo')).toHaveLength(5); // default: half
    expect(dropped.frames.some((f) => f.kind === 'configComplete')).toBe(false);
  });

  it('silent: after the handshake nothing more, not even heartbeat answers, and the socket stays open', async () => {
    emulator = await startEsp32Emulator({ port: 0, nodes: 3, mode: 'silent' });
    const c = await client(emulator);
    c.wantConfig(5);
    await c.complete(5);
    await new Promise((r) => setTimeout(r, 20));
    const count = c.frames.length;
    c.heartbeat();
    await new Promise((r) => setTimeout(r, 200));
    expect(c.frames.length).toBe(count);
    expect(c.isClosed()).toBe(false);
    c.socket.destroy();
  });

  it('reboot: clients dropped, connections refused while down, back with reboot_count + 1', async () => {
    emulator = await startEsp32Emulator({ port: 0, nodes: 3 });
    const c = await client(emulator);
    const rebooted = emulator.reboot(300);
    await waitFor(() => c.isClosed(), 5_000, 'client dropped');
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect({ host: emulator!.host, port: emulator!.port });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
    });
    expect(refused).toBe('ECONNREFUSED');
    await rebooted;
    const after = await client(emulator);
    after.wantConfig(11);
    await after.complete(11);
    expect(after.frames[0]).toMatchObject({ kind: 'myInfo', rebootCount: 1 });
    after.socket.destroy();
  });

  it('drops a client that says nothing for idleTimeoutMs', async () => {
    emulator = await startEsp32Emulator({ port: 0, nodes: 2, idleTimeoutMs: 150 });
    const c = await client(emulator);
    await waitFor(() => c.isClosed(), 5_000, 'idle client dropped');
    expect(emulator.stats.idleDrops).toBe(1);
  });
});

describe('ESP32 emulator CLI', () => {
  it('parses its options and rejects bad ones', () => {
    expect(parseEmulatorArgs(['--port', '4403', '--nodes', '200', '--mode', 'garbage', '--reboot-down', '500'])).toEqual({
      kind: 'run',
      options: { host: '127.0.0.1', port: 4403, nodes: 200, seed: 6, mode: 'garbage', rebootDownMs: 500 },
    });
    expect(parseEmulatorArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseEmulatorArgs(['--mode', 'chaos'])).toMatchObject({ kind: 'error' });
    expect(parseEmulatorArgs(['--port', '-1'])).toMatchObject({ kind: 'error' });
    expect(parseEmulatorArgs(['--bogus'])).toMatchObject({ kind: 'error' });
  });

  it('runs stdin commands', async () => {
    emulator = await startEsp32Emulator({ port: 0, nodes: 3 });
    expect(await runEmulatorCommand(emulator, 'mode stall')).toBe('mode stall');
    expect(emulator.mode()).toBe('stall');
    expect(await runEmulatorCommand(emulator, 'mode nope')).toMatch(/^modes:/);
    const before = emulator.nodes()[1]!.publicKey;
    expect(await runEmulatorCommand(emulator, 'rekey 1')).toMatch(/new key/);
    expect(emulator.nodes()[1]!.publicKey).not.toEqual(before);
    expect(JSON.parse((await runEmulatorCommand(emulator, 'status'))!)).toMatchObject({ mode: 'stall', clients: 0 });
    expect(await runEmulatorCommand(emulator, 'quit')).toBeNull();
  });
});
