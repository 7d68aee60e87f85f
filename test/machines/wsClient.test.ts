import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { CLOSE_CODES, wsClientMachine, type WsClientTiming } from '../../machines/wsClient.ts';
import { statePath } from '../../services/runtime/statePath.ts';

/** The client machine with its socket actions recorded, time on a SimulatedClock. */
function client(timing: Partial<WsClientTiming> = {}) {
  const clock = new SimulatedClock();
  const io: Array<[string, unknown?]> = [];
  const machine = wsClientMachine.provide({
    actions: {
      writeFrame: (_, p) => io.push(['write', p.frame]),
      writeNotice: (_, p) => io.push(['notice', p.code]),
      sendPing: () => io.push(['ping']),
      closeSocket: (_, p) => io.push(['close', p.code]),
      terminateSocket: () => io.push(['terminate']),
      announceDisconnect: ({ context }) => io.push(['announce', context.closeReason]),
      reportDrop: ({ context }) => io.push(['drop', context.error?.code]),
    },
  });
  const actor = createActor(machine, { input: { clientId: 'c1', remote: '127.0.0.1:1', topics: ['flow'], timing }, clock });
  actor.start();
  return { actor, io, clock, state: () => statePath(actor.getSnapshot().value), ctx: () => actor.getSnapshot().context };
}

describe('wsClient', () => {
  it('writes frames while the queue has room; one frame over maxQueueBytes → SLOW_CLIENT notice, close 4008, drop, announce', () => {
    const c = client({ maxQueueBytes: 100, closeTimeoutMs: 1_000 });
    c.actor.send({ type: 'frame.send', frame: 'a', bytes: 60, buffered: 40 });
    expect(c.io).toEqual([['write', 'a']]);
    c.actor.send({ type: 'frame.send', frame: 'b', bytes: 61, buffered: 40 });
    expect(c.state()).toBe('closing');
    expect(c.io.slice(1)).toEqual([['notice', 'SLOW_CLIENT'], ['close', CLOSE_CODES.slowClient], ['drop', 'SLOW_CLIENT']]);
    c.actor.send({ type: 'frame.send', frame: 'c', bytes: 1, buffered: 0 });
    expect(c.io.filter(([k]) => k === 'write')).toHaveLength(1); // nothing more is written
    c.clock.increment(1_000); // the client never closes: terminated
    expect(c.state()).toBe('closed');
    expect(c.io.slice(-2)).toEqual([['terminate'], ['announce', 'SLOW_CLIENT']]);
  });

  it('closes after maxWriteErrors consecutive write errors; a good write resets the count', () => {
    const c = client({ maxWriteErrors: 3 });
    c.actor.send({ type: 'write.failed', message: 'EPIPE' });
    c.actor.send({ type: 'write.failed', message: 'EPIPE' });
    c.actor.send({ type: 'write.ok' });
    c.actor.send({ type: 'write.failed', message: 'EPIPE' });
    c.actor.send({ type: 'write.failed', message: 'EPIPE' });
    expect(c.state()).toBe('open');
    c.actor.send({ type: 'write.failed', message: 'EPIPE' });
    expect(c.state()).toBe('closing');
    expect(c.ctx().error).toMatchObject({ code: 'WRITE_ERRORS' });
    expect(c.io).toContainEqual(['close', CLOSE_CODES.writeErrors]);
  });

  it('pings every pingInterval; maxMissedPongs unanswered → terminated as DEAD_CLIENT; a pong keeps it alive', () => {
    const c = client({ pingIntervalMs: 1_000, maxMissedPongs: 2 });
    c.clock.increment(1_000);
    c.actor.send({ type: 'pong.received' });
    c.clock.increment(1_000);
    c.actor.send({ type: 'pong.received' });
    expect(c.io.filter(([k]) => k === 'ping')).toHaveLength(2);
    c.clock.increment(1_000); // ping 3
    c.clock.increment(1_000); // ping 3 unanswered: ping 4
    expect(c.state()).toBe('open');
    c.clock.increment(1_000); // ping 4 unanswered too: dead
    expect(c.state()).toBe('closed');
    expect(c.ctx().error).toMatchObject({ code: 'DEAD_CLIENT' });
    expect(c.io.slice(-3)).toEqual([['terminate'], ['drop', 'DEAD_CLIENT'], ['announce', 'DEAD_CLIENT']]);
  });

  it('an unexpected close is announced; a normal one (1000/1001) is not', () => {
    const a = client();
    a.actor.send({ type: 'socket.closed', code: 1006, reason: '' });
    expect(a.ctx().error).toMatchObject({ code: 'CLIENT_DISCONNECTED' });
    expect(a.io).toEqual([['announce', 'CLIENT_DISCONNECTED']]);
    const b = client();
    b.actor.send({ type: 'socket.closed', code: 1000, reason: 'bye' });
    expect(b.state()).toBe('closed');
    expect(b.io).toEqual([]);
  });

  it('server.shutdown: SERVER_SHUTDOWN notice, close 1001, not announced', () => {
    const c = client({ closeTimeoutMs: 500 });
    c.actor.send({ type: 'server.shutdown' });
    expect(c.io).toEqual([['notice', 'SERVER_SHUTDOWN'], ['close', 1001]]);
    c.actor.send({ type: 'socket.closed', code: 1001, reason: 'SERVER_SHUTDOWN' });
    expect(c.state()).toBe('closed');
    expect(c.io.some(([k]) => k === 'announce')).toBe(false);
  });
});
