import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestOne } from '@nats-io/nats-core/internal';
import { errors } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../infra/nats/index.ts';
import type { Bus } from '../../services/bus/connection.ts';
import { connectAs } from '../../services/cli/natsEndpoint.ts';

let dataDir: string;
let server: NatsServerHandle;
let bus: Bus;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'lifeline-request-patch-'));
  server = await startNatsServer({ dataDir });
  bus = await connectAs({ url: server.url, credentials: server.credentials }, 'admin', 'request-patch-test', 10_000);
});

afterAll(async () => {
  await bus?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the RequestOne.cancel workaround (services/bus/requestCancelPatch.ts)', () => {
  it('is applied to the class nats.js uses for its requests', () => {
    expect((RequestOne.prototype as unknown as { lifelinePatched?: boolean }).lifelinePatched).toBe(true);
  });

  it('requests still get their reply, their timeout and their no-responders error', async () => {
    const sub = bus.nc.subscribe('patch.echo', { callback: (_err, msg) => void msg.respond(msg.data) });
    for (let i = 0; i < 50; i++) expect((await bus.nc.request('patch.echo', `m${i}`, { timeout: 2_000 })).string()).toBe(`m${i}`);
    sub.unsubscribe();
    await bus.nc.flush();
    const noResponders = await bus.nc.request('patch.nobody', 'x', { timeout: 2_000 }).catch((err: unknown) => err);
    expect(noResponders).toBeInstanceOf(errors.RequestError);
    expect((noResponders as InstanceType<typeof errors.RequestError>).isNoResponders()).toBe(true);
    const silent = bus.nc.subscribe('patch.silent', { callback: () => {} });
    const timedOut = await bus.nc.request('patch.silent', 'x', { timeout: 200 }).catch((err: unknown) => err);
    expect(timedOut).toBeInstanceOf(errors.TimeoutError);
    silent.unsubscribe();
  });
});
