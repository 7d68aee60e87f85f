import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { subjects } from '../../services/bus/subjects.ts';
import { encodeToken } from '../../services/bus/tokens.ts';
import { spawnLifeline } from '../support/lifelineProcess.ts';
import { sessionEntry, startTestPublisher, type TestPublisher } from '../support/telemetry.ts';
import { startTestSystem, type TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

let sys: TestSystem;
let good: TestPublisher;

beforeAll(async () => {
  sys = await startTestSystem({ gateway: false });
  good = await startTestPublisher(sys, 'good');
});

afterAll(async () => {
  await good?.close();
  await sys?.stop();
});

/** A /ws client that records every frame. */
async function wsClient(url: string) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  const frames: Array<Record<string, any>> = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, frames, send: (m: unknown) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)) };
}

describe('telemetry sessions: validation, projection and joining', () => {
  it('rejects malformed telemetry with an error event and keeps serving every other session and client', async () => {
    const watcher = await wsClient(sys.httpUrl);
    good.publisher.publish({ lap: 1, fuel: 90, position: 2, speed: 180 });
    await waitFor(() => sessionEntry(sys, 'good', 'telemetry'), 10_000, 'good session projected');
    watcher.send({ type: 'join_session', session_id: 'good' });
    await waitFor(() => watcher.frames.find((f) => f.type === 'session_joined'), 5_000, 'joined');
    const joined = watcher.frames.find((f) => f.type === 'session_joined')!;
    expect(joined.setup.setup).toEqual({ track: 'test ring', car: 'good' });
    expect(joined.telemetry).toMatchObject({ session_id: 'good', lap: 1, fuel: 90, position: 2, missing: [] });

    const errors: Array<Record<string, any>> = [];
    sys.admin.nc.subscribe(subjects.telemetryError, { callback: (_e, m) => void errors.push(m.json()) });
    await sys.admin.nc.flush();
    const js = jetstream(sys.admin.nc);
    await js.publish(`telemetry.${encodeToken('nosession')}.data`, JSON.stringify({ lap: 1, fuel: 2, position: 3 }));
    await js.publish(`telemetry.${encodeToken('garbage')}.data`, 'this is {not json');
    await js.publish(`telemetry.${encodeToken('types')}.data`, JSON.stringify({ session_id: 'types', lap: 'three', fuel: 1, position: 1 }));
    await js.publish(`telemetry.${encodeToken('types')}.setup`, JSON.stringify({ session_id: 'types', setup: 'not an object' }));
    await js.publish(`telemetry.${encodeToken('other')}.data`, JSON.stringify({ session_id: 'good', lap: 99, fuel: 1, position: 1 }));
    await js.publish(`telemetry.${encodeToken('partial')}.data`, JSON.stringify({ session_id: 'partial', seq: 1, speed: 120 }));

    await waitFor(() => errors.length >= 5, 10_000, 'five error events');
    expect(errors.map((e) => e.code)).toEqual(['TELEMETRY_NO_SESSION', 'TELEMETRY_NOT_JSON', 'TELEMETRY_INVALID', 'TELEMETRY_INVALID', 'TELEMETRY_INVALID']);
    expect(errors[2]!.message).toContain('lap');
    expect(errors[4]!.message).toContain('not the session its subject names');
    expect(errors.every((e) => e.component === 'projector' && e.severity === 'error' && e.details.subject)).toBe(true);

    // missing fields: accepted, with the missing ones named
    const partial = await waitFor(() => sessionEntry(sys, 'partial', 'telemetry'), 10_000, 'partial accepted');
    expect(partial).toMatchObject({ speed: 120, missing: ['lap', 'fuel', 'position'] });
    expect(await sessionEntry(sys, 'types', 'telemetry')).toBeUndefined();
    // the projector runs in its own thread and reports its stats every 100 ms
    await waitFor(() => sys.projector!.projector.stats().rejected === 5, 5_000, 'five messages rejected');

    // still serving: the good session's next sample reaches its dashboard, which saw no error
    good.publisher.publish({ lap: 2, fuel: 89, position: 1, speed: 190 });
    await waitFor(() => watcher.frames.find((f) => f.type === 'session_update' && f.part === 'telemetry' && f.value.lap === 2), 5_000, 'live update');
    expect(watcher.frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(watcher.frames.find((f) => f.type === 'session_update' && f.value?.lap === 99)).toBeUndefined();

    // an unknown session: an error to that client only; a malformed join too
    const lost = await wsClient(sys.httpUrl);
    lost.send({ type: 'join_session', session_id: 'nope' });
    lost.send({ type: 'join_session' });
    await waitFor(() => lost.frames.filter((f) => f.type === 'error').length === 2, 5_000, 'errors to the lost client');
    expect(lost.frames.filter((f) => f.type === 'error').map((f) => f.code).sort()).toEqual(['INVALID_MESSAGE', 'SESSION_NOT_FOUND']);
    expect(watcher.frames.filter((f) => f.type === 'error')).toEqual([]);
    // the rest of /ws still works on the same socket
    lost.send({ type: 'ping' });
    await waitFor(() => lost.frames.find((f) => f.type === 'pong'), 5_000, 'pong');
    watcher.ws.close();
    lost.ws.close();
  });

  it('a monitor process killed and restarted keeps its session id; --new-session starts another', async () => {
    const args = ['publish', '--source', 'sim', '--rate', '20', '--data-dir', sys.dataDir, '--nats-url', sys.nats.url];
    const sessionOf = async (extra: string[] = []) => {
      const proc = spawnLifeline([...args, ...extra]);
      await proc.waitForOutput('session ');
      const id = /session (\S+)/.exec(proc.output())![1]!;
      return { proc, id };
    };
    const first = await sessionOf();
    await waitFor(() => sessionEntry(sys, first.id, 'telemetry'), 15_000, 'first run publishes');
    await first.proc.kill('SIGKILL');
    const second = await sessionOf();
    expect(second.id).toBe(first.id);
    const firstIncarnation = (await sessionEntry(sys, first.id, 'telemetry'))!.publisher_incarnation;
    await waitFor(async () => (await sessionEntry(sys, first.id, 'telemetry'))!.publisher_incarnation !== firstIncarnation, 15_000, 'the restarted monitor publishes in the same session');
    await second.proc.kill('SIGKILL');
    const third = await sessionOf(['--new-session']);
    expect(third.id).not.toBe(first.id);
    await third.proc.kill('SIGKILL');
  });
});
