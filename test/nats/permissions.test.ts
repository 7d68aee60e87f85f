import { setImmediate as tick } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, PermissionViolationError, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionOptionsFor, type NatsServerHandle, type ServiceUser } from '../../infra/nats/index.ts';
import { natsFixture } from './helpers.ts';

const fixture = natsFixture();
const connections: NatsConnection[] = [];
let server: NatsServerHandle;
let admin: NatsConnection;

beforeAll(async () => {
  server = await fixture.start({ dataDir: await fixture.tempDir() });
  admin = await connectAs('admin');
});
afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  await fixture.cleanup();
});

interface Client {
  nc: NatsConnection;
  /** Permission violations the server reported to this connection (status events). */
  violations: PermissionViolationError[];
}

async function connectAs(user: ServiceUser): Promise<NatsConnection> {
  const nc = await connect({ ...connectionOptionsFor(server, user), reconnect: false });
  connections.push(nc);
  return nc;
}

async function clientAs(user: ServiceUser): Promise<Client> {
  const nc = await connectAs(user);
  const violations: PermissionViolationError[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error' && s.error instanceof PermissionViolationError) violations.push(s.error);
    }
  })();
  return { nc, violations };
}

/** What admin (allowed everything) saw on `subject` after `client` published there. */
async function publishAndObserve(client: Client, subject: string): Promise<{ delivered: number; denied: boolean }> {
  const sub: Subscription = admin.subscribe(subject);
  await admin.flush();
  let delivered = 0;
  const counting = (async () => {
    for await (const _m of sub) delivered += 1;
  })();
  client.nc.publish(subject, 'probe');
  // The server answers a PUB in order: a -ERR for a violation comes before the PONG.
  await client.nc.flush();
  await admin.flush();
  await tick();
  sub.unsubscribe();
  await counting;
  const denied = client.violations.some((v) => v.operation === 'publish' && v.subject === subject);
  return { delivered, denied };
}

describe('nats.conf permissions', () => {
  it('gateway may publish its own device records', async () => {
    const gateway = await clientAs('gateway');
    expect(await publishAndObserve(gateway, 'conn.device.x.y')).toEqual({ delivered: 1, denied: false });
    expect(gateway.violations).toEqual([]);
  });

  it("gateway may not publish another kind's records", async () => {
    const gateway = await clientAs('gateway');
    expect(await publishAndObserve(gateway, 'conn.telemetry.x.y')).toEqual({ delivered: 0, denied: true });
    // A violation on publish does not cost the connection.
    expect(gateway.nc.isClosed()).toBe(false);
  });

  it('hub may not publish transition records', async () => {
    const hub = await clientAs('hub');
    expect(await publishAndObserve(hub, 'conn.device.x.y')).toEqual({ delivered: 0, denied: true });
    expect(await publishAndObserve(hub, 'commands.device.x')).toEqual({ delivered: 1, denied: false });
  });

  it.each([
    ['telemetry', 'conn.telemetry.a.b', 'conn.child.a.b'],
    ['child', 'conn.child.a.b', 'conn.rpc.a.b'],
    ['rpc', 'conn.rpc.a.b', 'conn.link.a.b'],
    ['link', 'conn.link.a.b', 'conn.device.a.b'],
  ] as const)('%s publishes only its own kind', async (user, own, other) => {
    const client = await clientAs(user);
    expect(await publishAndObserve(client, own)).toEqual({ delivered: 1, denied: false });
    expect(await publishAndObserve(client, other)).toEqual({ delivered: 0, denied: true });
  });

  it('watcher reads transition records but cannot publish them', async () => {
    const watcher = await clientAs('watcher');
    const sub = watcher.nc.subscribe('conn.>', { max: 1 });
    await watcher.nc.flush();
    admin.publish('conn.device.a.failed', 'x');
    for await (const m of sub) expect(m.subject).toBe('conn.device.a.failed');
    expect(await publishAndObserve(watcher, 'conn.device.a.b')).toEqual({ delivered: 0, denied: true });
  });

  it('gateway may use the JetStream API but not create a stream; admin may', async () => {
    const gateway = await clientAs('gateway');
    const gatewayJsm = await jetstreamManager(gateway.nc);
    const adminJsm = await jetstreamManager(admin);

    const refused = await gatewayJsm.streams
      .add({ name: 'GW_FORBIDDEN', subjects: ['gwforbidden.>'] })
      .then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(/Permissions Violation for Publish to "\$JS\.API\.STREAM\.CREATE\.GW_FORBIDDEN"/);
    expect(gateway.violations.map((v) => v.subject)).toContain('$JS.API.STREAM.CREATE.GW_FORBIDDEN');
    await expect(adminJsm.streams.info('GW_FORBIDDEN')).rejects.toThrow(/stream not found/);

    await adminJsm.streams.add({ name: 'GW_FORBIDDEN', subjects: ['gwforbidden.>'] });
    // Reading through the API is allowed; deleting is not.
    expect((await gatewayJsm.streams.info('GW_FORBIDDEN')).config.name).toBe('GW_FORBIDDEN');
    await expect(gatewayJsm.streams.delete('GW_FORBIDDEN')).rejects.toThrow();
    expect((await adminJsm.streams.info('GW_FORBIDDEN')).config.name).toBe('GW_FORBIDDEN');
  });

  it('hub answers requests on cmd.device.> (replies to the asker’s inbox)', async () => {
    const hub = await clientAs('hub');
    const sub = hub.nc.subscribe('cmd.device.*', { max: 1, callback: (_err, msg) => {
      msg.respond('accepted');
    } });
    await hub.nc.flush();
    const reply = await admin.request('cmd.device.abc', 'cmd', { timeout: 2_000 });
    expect(reply.string()).toBe('accepted');
    expect(hub.violations).toEqual([]);
    sub.unsubscribe();
  });
});
