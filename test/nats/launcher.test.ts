import { createServer, type Server } from 'node:net';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  connectionOptionsFor,
  freePort,
  NatsServerStartError,
  type NatsServerHandle,
} from '../../infra/nats/index.ts';
import { natsFixture } from './helpers.ts';

const fixture = natsFixture();
const connections: NatsConnection[] = [];
afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  await fixture.cleanup();
});

async function connectAs(handle: NatsServerHandle, user: 'admin' | 'watcher'): Promise<NatsConnection> {
  const nc = await connect({ ...connectionOptionsFor(handle, user), reconnect: false });
  connections.push(nc);
  return nc;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function varz(handle: NatsServerHandle): Promise<Record<string, unknown>> {
  return (await (await fetch(`${handle.monitorUrl}/varz`)).json()) as Record<string, unknown>;
}

describe('startNatsServer', () => {
  it('starts on free loopback ports, answers /healthz, and accepts a service user', async () => {
    // A space and a `#` in the path: nats.conf must still read the store dir as one value.
    const dataDir = await fixture.tempDir('lifeline nats #');
    const server = await fixture.start({ dataDir });

    const { client, websocket, monitor } = server.ports;
    expect(new Set([client, websocket, monitor]).size).toBe(3);
    expect(server.url).toBe(`nats://127.0.0.1:${client}`);
    expect(server.wsUrl).toBe(`ws://127.0.0.1:${websocket}`);
    expect(server.monitorUrl).toBe(`http://127.0.0.1:${monitor}`);
    expect(server.storeDir).toBe(join(dataDir, 'jetstream'));
    expect(isAlive(server.pid)).toBe(true);

    const health = await fetch(`${server.monitorUrl}/healthz`);
    expect(health.status).toBe(200);

    const info = await varz(server);
    expect(info.host).toBe('127.0.0.1');
    expect(info.port).toBe(client);
    expect(info.http_host).toBe('127.0.0.1');
    expect(info.websocket).toMatchObject({ host: '127.0.0.1', port: websocket, no_tls: true });
    expect(info.jetstream).toMatchObject({ config: { store_dir: join(dataDir, 'jetstream', 'jetstream') } });

    const nc = await connectAs(server, 'watcher');
    await nc.flush();
    await expect(connect({ servers: server.url, user: 'watcher', pass: 'wrong', reconnect: false })).rejects.toThrow();

    expect(await readFile(server.logPath, 'utf8')).toContain('Server is ready');
  });

  it('keeps JetStream data when started again on the same data dir', async () => {
    const dataDir = await fixture.tempDir();
    const first = await fixture.start({ dataDir });
    const nc = await connectAs(first, 'admin');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
    await jetstreamManager(nc).then((m) => m.jetstream().publish('keep.one', 'hello'));
    await nc.close();
    await first.stop();
    expect(isAlive(first.pid)).toBe(false);

    const second = await fixture.start({ dataDir });
    expect(second.credentials).toEqual(first.credentials);
    const nc2 = await connectAs(second, 'admin');
    const info = await (await jetstreamManager(nc2)).streams.info('KEEP');
    expect(info.state.messages).toBe(1);
  });

  it('restarts on the same ports and store after kill(SIGKILL)', async () => {
    const server = await fixture.start({ dataDir: await fixture.tempDir() });
    const ports = { ...server.ports };
    const nc = await connectAs(server, 'admin');
    await (await jetstreamManager(nc)).streams.add({ name: 'SURVIVOR', subjects: ['survivor.>'] });
    await nc.close();

    const killedPid = server.pid;
    await server.kill('SIGKILL');
    expect(server.running).toBe(false);
    expect(isAlive(killedPid)).toBe(false);
    await expect(fetch(`${server.monitorUrl}/healthz`)).rejects.toThrow();

    await server.restart();
    expect(server.running).toBe(true);
    expect(server.pid).not.toBe(killedPid);
    expect(server.ports).toEqual(ports);
    expect((await fetch(`${server.monitorUrl}/healthz`)).status).toBe(200);
    const nc2 = await connectAs(server, 'admin');
    const names: string[] = [];
    for await (const name of (await jetstreamManager(nc2)).streams.names()) names.push(name);
    expect(names).toContain('SURVIVOR');
  });

  it('fails with the last lines of the server log when a port is taken', async () => {
    const busy: Server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => busy.listen(port, '127.0.0.1', resolve));
    try {
      const dataDir = await fixture.tempDir();
      const error = await fixture.start({ dataDir, ports: { client: port } }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(NatsServerStartError);
      const startError = error as NatsServerStartError;
      expect(startError.code).toBe('NATS_SERVER_START_FAILED');
      expect(startError.message).toMatch(/address already in use/);
      expect(startError.message).toContain(join(dataDir, 'nats-server.log'));
      await access(join(dataDir, 'nats-server.log'));
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });
});
