import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES } from '../../infra/device-sim/messages.ts';
import { SimDeviceError, connectSimDevice, type SimDevice, type SimDeviceOptions } from '../../infra/device-sim/simDevice.ts';
import { sleep, startTestGateway, tryParseObject, type GatewayConnection, type TestGateway } from './testGateway.ts';

const gateways: TestGateway[] = [];
const devices: SimDevice[] = [];
const servers: net.Server[] = [];

afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.close(200)));
  await Promise.all(gateways.splice(0).map((g) => g.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function gateway(opts?: Parameters<typeof startTestGateway>[0]): Promise<TestGateway> {
  const g = await startTestGateway(opts);
  gateways.push(g);
  return g;
}

async function connected(
  g: TestGateway,
  opts: Partial<SimDeviceOptions> & { name: string },
): Promise<{ device: SimDevice; conn: GatewayConnection }> {
  const device = await connectSimDevice({ host: '127.0.0.1', port: g.port, ...opts });
  devices.push(device);
  const conn = await g.waitForDevice(opts.name);
  return { device, conn };
}

const isAck = (id: string) => (m: Record<string, unknown>) => m.type === 'ack' && m.id === id;
const isResult = (id: string) => (m: Record<string, unknown>) => m.type === 'result' && m.id === id;

/** Resolves true when nothing matching `match` arrived within `ms`. */
async function nothingWithin(conn: GatewayConnection, match: (m: Record<string, unknown>) => boolean, ms: number): Promise<boolean> {
  await sleep(ms);
  return !conn.messages().some(match);
}

describe('connectSimDevice: handshake', () => {
  it('sends hello first and resolves with the id from welcome', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1', nodes: 3 });
    expect(JSON.parse(conn.lines[0] ?? '')).toEqual({ type: 'hello', device: 'dev1', nodes: 3 });
    expect(device.id).toBe('127.0.0.1:dev1');
    expect(device.name).toBe('dev1');
    expect(device.nodes).toBe(3);
    expect(device.isOpen).toBe(true);
  });

  it('sends one status per instance after welcome when asked', async () => {
    const g = await gateway();
    const { conn } = await connected(g, { name: 'dev1', nodes: 2, sendStatusOnConnect: true });
    await conn.waitFor((m) => m.type === 'status' && m.instance === 2);
    expect(conn.messages().filter((m) => m.type === 'status')).toEqual([
      { type: 'status', instance: 1, status: 'idle', config: {} },
      { type: 'status', instance: 2, status: 'idle', config: {} },
    ]);
  });

  it('rejects with WELCOME_TIMEOUT when no welcome arrives', async () => {
    const g = await gateway({ autoWelcome: false });
    const err = await connectSimDevice({ host: '127.0.0.1', port: g.port, name: 'dev1', welcomeTimeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimDeviceError);
    expect((err as SimDeviceError).code).toBe('WELCOME_TIMEOUT');
    expect((err as Error).message).toMatch(/no welcome .* within 150 ms/);
  });

  it('rejects with CLOSED_BEFORE_WELCOME when the gateway closes first', async () => {
    const g = await gateway({ closeOnConnect: true });
    const err = await connectSimDevice({ host: '127.0.0.1', port: g.port, name: 'dev1' }).catch((e: unknown) => e);
    expect((err as SimDeviceError).code).toBe('CLOSED_BEFORE_WELCOME');
  });

  it('rejects with CONNECT_FAILED when nothing listens', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const err = await connectSimDevice({ host: '127.0.0.1', port, name: 'dev1' }).catch((e: unknown) => e);
    expect((err as SimDeviceError).code).toBe('CONNECT_FAILED');
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  it('rejects invalid options before connecting', async () => {
    await expect(connectSimDevice({ host: '127.0.0.1', port: 1, name: 'x', nodes: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('rejects with ABORTED when the signal fires before welcome', async () => {
    const g = await gateway({ autoWelcome: false });
    const abort = new AbortController();
    const pending = connectSimDevice({ host: '127.0.0.1', port: g.port, name: 'dev1', signal: abort.signal });
    await g.waitForDevice('dev1');
    abort.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('SimDevice: commands', () => {
  it('normal: acks at once, then result ok after resultDelayMs', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1', resultDelayMs: 80 });
    const seen: string[] = [];
    device.onCommand((c) => seen.push(c.id));
    const sentAt = Date.now();
    const id = conn.command({ command: 'set', node_id: 'n-1', params: { speed: 3 } });
    await conn.waitFor(isAck(id));
    const ackAt = Date.now();
    expect(conn.messages().some(isResult(id))).toBe(false);
    const result = await conn.waitFor(isResult(id));
    expect(result).toEqual({ type: 'result', id, ok: true });
    expect(Date.now() - ackAt).toBeGreaterThanOrEqual(40);
    expect(ackAt - sentAt).toBeLessThan(80);
    expect(seen).toEqual([id]);
    expect(device.commands).toHaveLength(1);
    expect(device.commands[0]).toMatchObject({ id, node_id: 'n-1', instance: 1, command: 'set', params: { speed: 3 }, behavior: 'normal' });
  });

  it('fail: acks, then result ok:false with an error', async () => {
    const g = await gateway();
    const { conn } = await connected(g, { name: 'dev1', behavior: 'fail', resultDelayMs: 5, failError: 'motor jammed' });
    const id = conn.command();
    await conn.waitFor(isAck(id));
    expect(await conn.waitFor(isResult(id))).toEqual({ type: 'result', id, ok: false, error: 'motor jammed' });
  });

  it('hang: never acks (nothing within 300 ms) but records the command', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1', behavior: 'hang', resultDelayMs: 0 });
    const id = conn.command();
    await device.waitForCommands(1, 1_000);
    expect(await nothingWithin(conn, (m) => m.id === id, 300)).toBe(true);
    expect(device.commands.map((c) => c.behavior)).toEqual(['hang']);
  });

  it('no-result: acks but sends no result within 300 ms', async () => {
    const g = await gateway();
    const { conn } = await connected(g, { name: 'dev1', behavior: 'no-result', resultDelayMs: 0 });
    const id = conn.command();
    await conn.waitFor(isAck(id));
    expect(await nothingWithin(conn, isResult(id), 300)).toBe(true);
  });

  it('crash-on-command: the gateway sees ECONNRESET', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1', behavior: 'crash-on-command' });
    conn.command();
    await conn.closed;
    expect(conn.error?.code).toBe('ECONNRESET');
    expect(conn.ended).toBe(false);
    const closed = await device.closed;
    expect(closed.reason).toBe('crashed');
    expect(device.isOpen).toBe(false);
  });

  it('garbage-on-command: answers with a line that is not JSON', async () => {
    const g = await gateway();
    const { conn } = await connected(g, { name: 'dev1', behavior: 'garbage-on-command' });
    const id = conn.command();
    const line = await conn.waitForLine((l) => tryParseObject(l) === undefined);
    expect(() => JSON.parse(line)).toThrow();
    expect(conn.messages().some((m) => m.id === id)).toBe(false);
  });

  it('unknown-on-command: answers with valid JSON of an unknown type', async () => {
    const g = await gateway();
    const { conn } = await connected(g, { name: 'dev1', behavior: 'unknown-on-command' });
    conn.command();
    const message = await conn.waitFor((m) => m.type !== 'hello');
    expect(['hello', 'ack', 'result', 'status', 'pong']).not.toContain(message.type);
    expect(typeof message.type).toBe('string');
  });

  it('oversized-on-command: answers with a line longer than 64 KiB', async () => {
    const g = await gateway();
    const { conn } = await connected(g, { name: 'dev1', behavior: 'oversized-on-command' });
    conn.command();
    const line = await conn.waitForLine((l) => l.length > 1_000);
    expect(Buffer.byteLength(line)).toBeGreaterThan(65_536);
    expect(Buffer.byteLength(line)).toBe(70_000);
  });

  it('per-instance behavior: only instance 2 crashes the device', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, {
      name: 'dev1',
      nodes: 3,
      resultDelayMs: 5,
      behavior: { default: 'normal', byInstance: { 2: 'crash-on-command', 3: 'fail' } },
    });
    const first = conn.command({ instance: 1 });
    expect(await conn.waitFor(isResult(first))).toMatchObject({ ok: true });
    const third = conn.command({ instance: 3 });
    expect(await conn.waitFor(isResult(third))).toMatchObject({ ok: false });
    expect(conn.isClosed).toBe(false);
    conn.command({ instance: 2 });
    await conn.closed;
    expect(conn.error?.code).toBe('ECONNRESET');
    expect(device.commands.map((c) => [c.instance, c.behavior])).toEqual([
      [1, 'normal'],
      [3, 'fail'],
      [2, 'crash-on-command'],
    ]);
  });

  it('setBehavior applies to the next command', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1', resultDelayMs: 0 });
    const a = conn.command();
    expect(await conn.waitFor(isResult(a))).toMatchObject({ ok: true });
    device.setBehavior('fail');
    const b = conn.command();
    expect(await conn.waitFor(isResult(b))).toMatchObject({ ok: false });
  });

  it('answers a command for an instance the device does not have with ok:false', async () => {
    const g = await gateway();
    const { conn } = await connected(g, { name: 'dev1', nodes: 2, resultDelayMs: 0 });
    const id = conn.command({ instance: 5 });
    expect(await conn.waitFor(isResult(id))).toMatchObject({ ok: false, error: expect.stringContaining('instance 5') });
  });

  it('waitForCommands resolves with the first n commands, rejects on timeout and on close', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1', resultDelayMs: 0 });
    const waiting = device.waitForCommands(2, 2_000);
    const ids = [conn.command(), conn.command(), conn.command()];
    expect((await waiting).map((c) => c.id)).toEqual(ids.slice(0, 2));
    await expect(device.waitForCommands(10, 100)).rejects.toMatchObject({ code: 'WAIT_TIMEOUT' });
    const pending = device.waitForCommands(10, 5_000);
    conn.socket.end();
    await expect(pending).rejects.toMatchObject({ code: 'DEVICE_CLOSED' });
  });
});

describe('SimDevice: pings, silence and closing', () => {
  it('answers every ping with pong and counts them', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1' });
    conn.send({ type: 'ping' });
    conn.send({ type: 'ping' });
    await conn.waitForLine(() => conn.messages().filter((m) => m.type === 'pong').length === 2);
    expect(device.pings).toBe(2);
  });

  it('goSilent: no pong, no ack, socket stays open; closed resolves when the gateway gives up', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1', resultDelayMs: 0 });
    conn.send({ type: 'ping' });
    await conn.waitFor((m) => m.type === 'pong');
    device.goSilent();
    conn.send({ type: 'ping' });
    const id = conn.command();
    await sleep(300);
    expect(conn.messages().filter((m) => m.type === 'pong')).toHaveLength(1);
    expect(conn.messages().some((m) => m.id === id)).toBe(false);
    expect(conn.isClosed).toBe(false);
    expect(device.isOpen).toBe(true);
    expect(device.silent).toBe(true);
    conn.socket.end();
    expect(await device.closed).toMatchObject({ reason: 'remote-closed' });
  });

  it('goSilent cancels a result already scheduled', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1', resultDelayMs: 100 });
    const id = conn.command();
    await conn.waitFor(isAck(id));
    device.goSilent();
    expect(await nothingWithin(conn, isResult(id), 250)).toBe(true);
  });

  it('close(): clean FIN, the gateway sees end and no error', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1' });
    const closed = await device.close();
    await conn.closed;
    expect(conn.ended).toBe(true);
    expect(conn.error).toBeUndefined();
    expect(closed).toMatchObject({ hadError: false, reason: 'closed' });
  });

  it('crash(): the gateway sees ECONNRESET', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1' });
    device.crash();
    await conn.closed;
    expect(conn.error?.code).toBe('ECONNRESET');
    expect((await device.closed).reason).toBe('crashed');
  });

  it('closed reports an error when the gateway resets the device', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1' });
    conn.socket.resetAndDestroy();
    const closed = await device.closed;
    expect(closed).toMatchObject({ hadError: true, reason: 'error' });
    expect((closed.error as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(device.sendGarbage()).toBe(false);
  });
});

describe('SimDevice: raw writes', () => {
  it('sendRaw, sendGarbage, sendStatus and sendOversizedLine write what they say', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1' });
    device.sendStatus(1, 'running', { speed: 7 });
    device.sendRaw('{"type":"pong"}\r\n');
    device.sendGarbage();
    device.sendOversizedLine(100_000);
    const big = await conn.waitForLine((l) => l.length > 1_000);
    expect(conn.lines[1]).toBe(JSON.stringify({ type: 'status', instance: 1, status: 'running', config: { speed: 7 } }));
    expect(conn.lines[2]).toBe('{"type":"pong"}\r');
    expect(() => JSON.parse(conn.lines[3] ?? '')).toThrow();
    expect(Buffer.byteLength(big)).toBe(100_000);
    expect(Buffer.byteLength(big)).toBeGreaterThan(MAX_LINE_BYTES);
    expect(tryParseObject(big)?.type).toBe('status');
  });
});

describe('SimDevice: line handling from the gateway', () => {
  it('handles split lines, CRLF, several messages per chunk, split UTF-8, and ignores bad lines', async () => {
    const g = await gateway({ autoWelcome: false });
    const pending = connectSimDevice({ host: '127.0.0.1', port: g.port, name: 'dev1', resultDelayMs: 0 });
    const conn = await g.waitForDevice('dev1');
    conn.sendRaw('{"type":"wel');
    await sleep(20);
    conn.sendRaw('come","id":"gw:dev1"}\r\n');
    const device = await pending;
    devices.push(device);
    expect(device.id).toBe('gw:dev1');

    conn.sendRaw('not json at all\n{"type":"mystery"}\n{"type":"command"}\n\n\r\n{"type":"ping"}\n{"type":"ping"}\r\n');
    const command = Buffer.from(`${JSON.stringify({ type: 'command', id: 'c-é', node_id: 'n', instance: 1, command: 'say', params: { text: 'héllo ✓' } })}\n`);
    const cut = command.indexOf(Buffer.from('✓')) + 1; // inside the 3-byte character
    conn.socket.write(command.subarray(0, cut));
    await sleep(20);
    conn.socket.write(command.subarray(cut));
    await conn.waitFor(isResult('c-é'));
    expect(device.pings).toBe(2);
    expect(device.commands).toHaveLength(1);
    expect(device.commands[0]?.params).toEqual({ text: 'héllo ✓' });
    expect(device.isOpen).toBe(true);
  });

  it('drops an oversized line from the gateway and keeps going', async () => {
    const g = await gateway();
    const { device, conn } = await connected(g, { name: 'dev1' });
    conn.sendRaw(`{"type":"ping","pad":"${'x'.repeat(80_000)}"}\n`);
    conn.send({ type: 'ping' });
    await conn.waitFor((m) => m.type === 'pong');
    expect(device.pings).toBe(1);
  });
});
