import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock, type InspectionEvent } from 'xstate';
import {
  DEFAULT_DEVICE_TIMING,
  deviceSocketMachine,
  summarizeDeviceSocket,
  type CommandOutcome,
  type DeviceCommand,
  type DeviceSocketContext,
  type DeviceSocketEvent,
  type DeviceTiming,
  type PendingCommand,
} from '../../machines/deviceSocket.ts';
import type { ErrorEvent } from '../../machines/lib/errorEvent.ts';
import { transitionRecordSchema, type TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { hostActor } from '../../services/runtime/host.ts';

// ---------------------------------------------------------------------------------------
// Harness: the machine with recording I/O actions, driven by a SimulatedClock.
// ---------------------------------------------------------------------------------------

const DEVICE_ID = '10.0.0.5:press';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function cmd(id: string, extra: Partial<DeviceCommand> = {}): DeviceCommand {
  return {
    command_id: id,
    node_id: `node-${id}`,
    command: 'move',
    params: { step: 1 },
    accepted_at: '2024-05-01T13:35:00.000Z',
    ...extra,
  };
}

interface HarnessOptions {
  nodes?: number;
  timing?: Partial<DeviceTiming>;
  /** The simulated device answers every ping with a pong after this many ms. */
  answerPingsAfterMs?: number;
}

function device(options: HarnessOptions = {}) {
  const clock = new SimulatedClock();
  const sent: PendingCommand[] = [];
  const pings: number[] = [];
  const closes: Array<{ reason: string; at: number }> = [];
  /** Every outcome any microstep settled, in order (context.settled is replaced per settling step). */
  const outcomes: CommandOutcome[] = [];
  let lastSettled: CommandOutcome[] | undefined;

  const machine = deviceSocketMachine.provide({
    actions: {
      sendCommand: (_, { command }) => {
        sent.push(command);
      },
      sendPing: () => {
        pings.push(clock.now());
        const latency = options.answerPingsAfterMs;
        if (latency !== undefined) {
          clock.setTimeout(() => {
            if (actor.getSnapshot().status === 'active') actor.send({ type: 'device.pong' });
          }, latency);
        }
      },
      closeSocket: (_, { reason }) => {
        closes.push({ reason, at: clock.now() });
      },
    },
  });

  const collect = (settled: CommandOutcome[]): void => {
    if (settled === lastSettled) return;
    lastSettled = settled;
    outcomes.push(...settled);
  };

  const actor = createActor(machine, {
    input: {
      deviceId: DEVICE_ID,
      name: 'press',
      nodes: options.nodes ?? 3,
      remote: '10.0.0.5',
      gateway: 'gw-1',
      ...(options.timing ? { timing: options.timing } : {}),
      now: () => clock.now(),
    },
    clock,
    inspect: (event: InspectionEvent) => {
      if (event.type === '@xstate.microstep' && event.actorRef === actor) {
        collect((event.snapshot as ReturnType<typeof actor.getSnapshot>).context.settled);
      }
    },
  });
  actor.start();
  collect(actor.getSnapshot().context.settled);

  const h = {
    clock,
    actor,
    sent,
    pings,
    closes,
    outcomes,
    ctx: (): DeviceSocketContext => actor.getSnapshot().context,
    state: (): string => String(actor.getSnapshot().value),
    status: () => actor.getSnapshot().status,
    send: (event: DeviceSocketEvent): void => actor.send(event),
    submit: (id: string, extra: Partial<DeviceCommand> = {}): DeviceCommand => {
      const c = cmd(id, extra);
      actor.send({ type: 'command.submitted', command: c });
      return c;
    },
    ack: (id: string): void => actor.send({ type: 'device.ack', id }),
    result: (id: string, ok = true, error?: string): void =>
      actor.send(error === undefined ? { type: 'device.result', id, ok } : { type: 'device.result', id, ok, error }),
    /** Advances simulated time in small steps so re-armed timers fire at their exact due time. */
    advance: (ms: number, step = 1): void => {
      for (let left = ms; left > 0; ) {
        const d = Math.min(step, left);
        clock.increment(d);
        left -= d;
      }
    },
    advanceTo: (t: number, step = 1): void => h.advance(t - clock.now(), step),
    pendingIds: (): string[] => {
      const c = actor.getSnapshot().context;
      return [...(c.inFlight ? [c.inFlight] : []), ...c.queue].map((p) => p.command_id);
    },
  };
  return h;
}

type Harness = ReturnType<typeof device>;

function failedOutcome(c: DeviceCommand, instance: number, error: ErrorEvent): CommandOutcome {
  return { command_id: c.command_id, node_id: c.node_id, instance, accepted_at: c.accepted_at, status: 'failed', error };
}

// ---------------------------------------------------------------------------------------

describe('deviceSocketMachine: start', () => {
  it('starts idle with the input in context, the default timing and connectedAt from the clock', () => {
    const h = device();
    expect(h.state()).toBe('idle');
    expect(h.status()).toBe('active');
    const c = h.ctx();
    expect(c).toMatchObject({
      deviceId: DEVICE_ID,
      name: 'press',
      nodes: 3,
      remote: '10.0.0.5',
      gateway: 'gw-1',
      connectedAt: iso(0),
      timing: DEFAULT_DEVICE_TIMING,
      queue: [],
      inFlight: null,
      settled: [],
      instances: {},
      nextInstance: 1,
      error: null,
    });
    expect(DEFAULT_DEVICE_TIMING).toEqual({ ackTimeoutMs: 5_000, resultTimeoutMs: 60_000, heartbeatIntervalMs: 10_000, silentTimeoutMs: 30_000 });
    expect(h.sent).toEqual([]);
    expect(h.closes).toEqual([]);
  });

  it('merges a partial timing over the defaults', () => {
    const h = device({ timing: { ackTimeoutMs: 1_500 } });
    expect(h.ctx().timing).toEqual({ ...DEFAULT_DEVICE_TIMING, ackTimeoutMs: 1_500 });
  });
});

describe('deviceSocketMachine: submitting commands', () => {
  it('idle → awaitingAck on command.submitted, sending the command with an instance', () => {
    const h = device();
    const c = h.submit('c1');
    expect(h.state()).toBe('awaitingAck');
    expect(h.sent).toEqual([{ ...c, instance: 1, status: 'started' }]);
    expect(h.ctx().inFlight).toEqual({ ...c, instance: 1, status: 'started' });
    expect(h.ctx().queue).toEqual([]);
  });

  it('assigns instances round-robin across nodes when the command names none; an explicit instance is respected and does not advance the rotation', () => {
    const h = device({ nodes: 3 });
    const plan: Array<number | undefined> = [undefined, 3, undefined, undefined, undefined, 1, undefined];
    plan.forEach((instance, i) => h.submit(`c${i}`, instance === undefined ? {} : { instance }));
    // drive every command to completion so each one gets sent
    for (let i = 0; i < plan.length; i++) h.result(`c${i}`);
    expect(h.state()).toBe('idle');
    expect(h.sent.map((s) => [s.command_id, s.instance])).toEqual([
      ['c0', 1],
      ['c1', 3],
      ['c2', 2],
      ['c3', 3],
      ['c4', 1],
      ['c5', 1],
      ['c6', 2],
    ]);
  });

  it('with a single node every command goes to instance 1', () => {
    const h = device({ nodes: 1 });
    h.submit('a');
    h.submit('b');
    h.result('a');
    h.result('b');
    expect(h.sent.map((s) => s.instance)).toEqual([1, 1]);
  });

  it.each([0, -1, 4, 99])('instance %d outside 1..nodes is settled failed INVALID_INSTANCE without being sent', (instance) => {
    const h = device({ nodes: 3 });
    h.advance(250);
    const c = h.submit('bad', { instance });
    expect(h.state()).toBe('idle');
    expect(h.sent).toEqual([]);
    expect(h.ctx().queue).toEqual([]);
    expect(h.ctx().inFlight).toBeNull();
    expect(h.ctx().error).toBeNull();
    expect(h.status()).toBe('active');
    const [o, ...rest] = h.ctx().settled;
    expect(rest).toEqual([]);
    expect(o).toMatchObject({ command_id: 'bad', node_id: c.node_id, instance, accepted_at: c.accepted_at, status: 'failed' });
    expect(o!.error).toMatchObject({
      code: 'INVALID_INSTANCE',
      component: 'device-socket',
      severity: 'error',
      timestamp: iso(250),
      details: { device_id: DEVICE_ID, command_id: 'bad' },
    });
    expect(o!.error!.message).toContain(String(instance));
    // the rotation did not move: the next valid command still gets instance 1
    h.submit('good');
    expect(h.sent.map((s) => [s.command_id, s.instance])).toEqual([['good', 1]]);
  });

  it('instances 1 and nodes are the valid bounds', () => {
    const h = device({ nodes: 3 });
    h.submit('lo', { instance: 1 });
    h.submit('hi', { instance: 3 });
    h.result('lo');
    expect(h.sent.map((s) => [s.command_id, s.instance])).toEqual([
      ['lo', 1],
      ['hi', 3],
    ]);
    expect(h.ctx().settled.map((o) => o.status)).toEqual(['completed']);
  });

  it('an invalid command submitted while another is in flight leaves the in-flight command and the queue alone', () => {
    const h = device({ nodes: 2 });
    h.submit('c1');
    h.submit('c2');
    h.ack('c1');
    h.submit('bad', { instance: 3 });
    expect(h.state()).toBe('busy');
    expect(h.pendingIds()).toEqual(['c1', 'c2']);
    expect(h.ctx().settled.map((o) => [o.command_id, o.error?.code])).toEqual([['bad', 'INVALID_INSTANCE']]);
    expect(h.sent.map((s) => s.command_id)).toEqual(['c1']);
  });
});

describe('deviceSocketMachine: one command in flight at a time', () => {
  it('sends only the first of three; ack → busy (in progress); result ok → completed and the next is sent, in order', () => {
    const h = device();
    const c1 = h.submit('c1');
    h.submit('c2');
    const c3 = h.submit('c3');
    expect(h.state()).toBe('awaitingAck');
    expect(h.sent.map((s) => s.command_id)).toEqual(['c1']);
    expect(h.ctx().queue.map((q) => [q.command_id, q.status])).toEqual([
      ['c2', 'started'],
      ['c3', 'started'],
    ]);

    h.ack('c1');
    expect(h.state()).toBe('busy');
    expect(h.ctx().inFlight).toMatchObject({ command_id: 'c1', status: 'in progress' });
    expect(h.sent).toHaveLength(1);

    h.result('c1', true);
    expect(h.ctx().settled).toEqual([
      { command_id: 'c1', node_id: c1.node_id, instance: 1, accepted_at: c1.accepted_at, status: 'completed' },
    ]);
    expect(h.ctx().settled[0]).not.toHaveProperty('error');
    expect(h.state()).toBe('awaitingAck');
    expect(h.sent.map((s) => s.command_id)).toEqual(['c1', 'c2']);
    expect(h.ctx().inFlight).toMatchObject({ command_id: 'c2', instance: 2, status: 'started' });

    h.ack('c2');
    h.result('c2');
    expect(h.sent.map((s) => s.command_id)).toEqual(['c1', 'c2', 'c3']);
    h.ack('c3');
    h.result('c3');
    expect(h.ctx().settled).toEqual([
      { command_id: 'c3', node_id: c3.node_id, instance: 3, accepted_at: c3.accepted_at, status: 'completed' },
    ]);
    expect(h.state()).toBe('idle');
    expect(h.pendingIds()).toEqual([]);
    expect(h.outcomes.map((o) => [o.command_id, o.status])).toEqual([
      ['c1', 'completed'],
      ['c2', 'completed'],
      ['c3', 'completed'],
    ]);
  });

  it('result ok:false → failed DEVICE_REPORTED_FAILURE carrying the device message; the device stays connected', () => {
    const h = device();
    h.submit('c1');
    h.submit('c2');
    h.ack('c1');
    h.advance(1_200);
    h.result('c1', false, 'jammed');
    const [o] = h.ctx().settled;
    expect(o).toMatchObject({ command_id: 'c1', status: 'failed' });
    expect(o!.error).toMatchObject({
      code: 'DEVICE_REPORTED_FAILURE',
      message: 'jammed',
      component: 'device-socket',
      timestamp: iso(1_200),
      details: { device_id: DEVICE_ID, command_id: 'c1' },
    });
    expect(h.ctx().error).toBeNull();
    expect(h.state()).toBe('awaitingAck');
    expect(h.sent.map((s) => s.command_id)).toEqual(['c1', 'c2']);
    expect(h.closes).toEqual([]);
  });

  it('result ok:false without a message gets a default message', () => {
    const h = device();
    h.submit('c1');
    h.ack('c1');
    h.result('c1', false);
    expect(h.ctx().settled[0]!.error).toMatchObject({ code: 'DEVICE_REPORTED_FAILURE', message: 'the device reported a failure' });
    expect(h.state()).toBe('idle');
  });

  it('a result without an ack (implied ack) settles the command from awaitingAck and sends the next', () => {
    const h = device();
    h.submit('c1');
    h.submit('c2');
    h.result('c1', true);
    expect(h.ctx().settled.map((o) => [o.command_id, o.status])).toEqual([['c1', 'completed']]);
    expect(h.state()).toBe('awaitingAck');
    expect(h.ctx().inFlight?.command_id).toBe('c2');
    h.result('c2', false, 'nope');
    expect(h.ctx().settled.map((o) => [o.command_id, o.status, o.error?.code])).toEqual([['c2', 'failed', 'DEVICE_REPORTED_FAILURE']]);
    expect(h.state()).toBe('idle');
  });

  it('acks and results naming another command do not move the in-flight one', () => {
    const h = device();
    h.submit('c1');
    h.submit('c2');
    h.ack('c2'); // queued, not in flight
    expect(h.state()).toBe('awaitingAck');
    h.result('c2');
    expect(h.state()).toBe('awaitingAck');
    expect(h.pendingIds()).toEqual(['c1', 'c2']);
    h.ack('c1');
    h.result('zzz');
    h.ack('c1'); // duplicate ack while busy
    expect(h.state()).toBe('busy');
    expect(h.ctx().inFlight).toMatchObject({ command_id: 'c1', status: 'in progress' });
    expect(h.ctx().settled).toEqual([]);
    expect(h.sent.map((s) => s.command_id)).toEqual(['c1']);
  });
});

describe('deviceSocketMachine: ack timeout', () => {
  function expectNoAckFailure(h: Harness, at: number, commands: Array<[DeviceCommand, number]>): void {
    expect(h.state()).toBe('failed');
    expect(h.status()).toBe('done');
    const error = h.ctx().error!;
    expect(error).toMatchObject({
      code: 'NO_ACK',
      component: 'device-socket',
      severity: 'error',
      retryable: true,
      timestamp: iso(at),
      details: { device_id: DEVICE_ID, command_id: commands[0]![0].command_id },
    });
    expect(h.ctx().settled).toEqual(commands.map(([c, instance]) => failedOutcome(c, instance, error)));
    expect(h.ctx().inFlight).toBeNull();
    expect(h.ctx().queue).toEqual([]);
    expect(h.closes).toEqual([{ reason: 'NO_ACK', at }]);
  }

  it('default 5 s: 1 ms before the boundary nothing happens; at 5 s every pending command fails NO_ACK, socket closed, actor done', () => {
    const h = device();
    const c1 = h.submit('c1');
    const c2 = h.submit('c2');
    const c3 = h.submit('c3');
    h.advanceTo(4_999);
    expect(h.state()).toBe('awaitingAck');
    expect(h.status()).toBe('active');
    expect(h.closes).toEqual([]);
    expect(h.ctx().error).toBeNull();
    h.advance(1);
    expectNoAckFailure(h, 5_000, [
      [c1, 1],
      [c2, 2],
      [c3, 3],
    ]);
    expect(h.ctx().error!.message).toContain('5000');
    expect(h.sent.map((s) => s.command_id)).toEqual(['c1']);
  });

  it('a configured ack timeout is measured from when the command was sent', () => {
    const h = device({ timing: { ackTimeoutMs: 1_500 } });
    h.advanceTo(1_000);
    const c1 = h.submit('c1');
    h.advanceTo(2_499);
    expect(h.state()).toBe('awaitingAck');
    expect(h.closes).toEqual([]);
    h.advance(1);
    expectNoAckFailure(h, 2_500, [[c1, 1]]);
    expect(h.ctx().error!.message).toContain('1500');
  });

  it('an ack 1 ms before the deadline wins; the ack timer is gone', () => {
    const h = device({ answerPingsAfterMs: 5 });
    h.submit('c1');
    h.advanceTo(4_999);
    h.ack('c1');
    expect(h.state()).toBe('busy');
    h.advanceTo(30_000);
    expect(h.state()).toBe('busy');
    expect(h.closes).toEqual([]);
  });

  it('the ack timer restarts for every command sent', () => {
    const h = device();
    h.submit('c1');
    const c2 = h.submit('c2');
    h.advanceTo(4_000);
    h.result('c1'); // c2 is sent at 4 s
    h.advanceTo(8_999);
    expect(h.state()).toBe('awaitingAck');
    expect(h.ctx().inFlight?.command_id).toBe('c2');
    h.advance(1);
    expectNoAckFailure(h, 9_000, [[c2, 2]]);
  });

  it('a result without an ack also stops the ack timer', () => {
    const h = device({ answerPingsAfterMs: 5 });
    h.submit('c1');
    h.advanceTo(1_000);
    h.result('c1');
    h.advanceTo(20_000);
    expect(h.state()).toBe('idle');
    expect(h.status()).toBe('active');
  });
});

describe('deviceSocketMachine: result timeout', () => {
  it('default 60 s: fails only the in-flight command RESULT_TIMEOUT, stays connected and sends the next queued command', () => {
    const h = device({ answerPingsAfterMs: 20 }); // keeps the silence timer quiet
    const c1 = h.submit('c1');
    h.submit('c2');
    h.submit('c3');
    h.advanceTo(1_000);
    h.ack('c1');
    h.advanceTo(60_999);
    expect(h.state()).toBe('busy');
    expect(h.ctx().settled).toEqual([]);
    h.advance(1);
    const [o, ...rest] = h.ctx().settled;
    expect(rest).toEqual([]);
    expect(o).toMatchObject({ command_id: 'c1', node_id: c1.node_id, instance: 1, status: 'failed' });
    expect(o!.error).toMatchObject({
      code: 'RESULT_TIMEOUT',
      timestamp: iso(61_000),
      details: { device_id: DEVICE_ID, command_id: 'c1' },
    });
    expect(o!.error!.message).toContain('60000');
    expect(h.ctx().error).toBeNull();
    expect(h.status()).toBe('active');
    expect(h.closes).toEqual([]);
    expect(h.state()).toBe('awaitingAck');
    expect(h.sent.map((s) => s.command_id)).toEqual(['c1', 'c2']);
    expect(h.pendingIds()).toEqual(['c2', 'c3']);
  });

  it('a configured result timeout; a late ack and a late result of the timed-out command are ignored', () => {
    const h = device({ timing: { resultTimeoutMs: 2_000 } });
    h.submit('c1');
    h.submit('c2');
    h.ack('c1');
    h.advanceTo(1_999);
    expect(h.state()).toBe('busy');
    h.advance(1);
    expect(h.ctx().settled.map((o) => [o.command_id, o.error?.code])).toEqual([['c1', 'RESULT_TIMEOUT']]);
    expect(h.state()).toBe('awaitingAck');
    h.ack('c1');
    h.result('c1');
    expect(h.state()).toBe('awaitingAck');
    expect(h.ctx().inFlight).toMatchObject({ command_id: 'c2', status: 'started' });
    expect(h.ctx().settled.map((o) => [o.command_id, o.error?.code])).toEqual([['c1', 'RESULT_TIMEOUT']]);
    // c2 gets its own full result timeout
    h.ack('c2');
    h.advanceTo(3_999);
    expect(h.state()).toBe('busy');
    h.advance(1);
    expect(h.ctx().settled.map((o) => [o.command_id, o.error?.code])).toEqual([['c2', 'RESULT_TIMEOUT']]);
    expect(h.state()).toBe('idle');
    expect(h.ctx().inFlight).toBeNull();
    expect(h.status()).toBe('active');
  });

  it('a result before the deadline cancels the result timer', () => {
    const h = device({ timing: { resultTimeoutMs: 2_000 } });
    h.submit('c1');
    h.ack('c1');
    h.advanceTo(1_999);
    h.result('c1');
    h.submit('c2');
    h.ack('c2');
    h.advanceTo(3_000);
    expect(h.state()).toBe('busy');
    expect(h.ctx().settled.map((o) => [o.command_id, o.status])).toEqual([['c1', 'completed']]);
  });
});

describe('deviceSocketMachine: heartbeat and silence', () => {
  it('sends a ping every heartbeat interval; a silent device fails SILENT at the silent timeout, closing the socket', () => {
    const h = device();
    h.advanceTo(29_999);
    expect(h.pings).toEqual([10_000, 20_000]);
    expect(h.state()).toBe('idle');
    h.advance(1);
    expect(h.state()).toBe('failed');
    expect(h.status()).toBe('done');
    expect(h.ctx().error).toMatchObject({
      code: 'SILENT',
      severity: 'error',
      retryable: true,
      timestamp: iso(30_000),
      details: { device_id: DEVICE_ID },
    });
    expect(h.closes).toEqual([{ reason: 'SILENT', at: 30_000 }]);
    const pingsAtFailure = h.pings.length;
    h.advance(60_000, 1_000);
    expect(h.pings).toHaveLength(pingsAtFailure); // heartbeat stopped with the actor
  });

  it('uses the configured heartbeat interval and silent timeout', () => {
    const h = device({ timing: { heartbeatIntervalMs: 3_000, silentTimeoutMs: 7_000 } });
    h.advanceTo(6_999);
    expect(h.pings).toEqual([3_000, 6_000]);
    expect(h.state()).toBe('idle');
    h.advance(1);
    expect(h.ctx().error?.code).toBe('SILENT');
  });

  it('fails every pending command SILENT', () => {
    const h = device({ timing: { ackTimeoutMs: 60_000 } });
    const c1 = h.submit('c1');
    const c2 = h.submit('c2');
    h.advanceTo(30_000);
    const error = h.ctx().error!;
    expect(error.code).toBe('SILENT');
    expect(h.ctx().settled).toEqual([failedOutcome(c1, 1, error), failedOutcome(c2, 2, error)]);
  });

  it('a device answering every ping never goes SILENT over 5 minutes, in every state', () => {
    const h = device({ answerPingsAfterMs: 50, timing: { ackTimeoutMs: 400_000, resultTimeoutMs: 400_000 } });
    h.advanceTo(60_000, 10);
    h.submit('c1'); // awaitingAck for a minute
    h.advanceTo(120_000, 10);
    h.ack('c1'); // busy for a minute
    h.advanceTo(180_000, 10);
    h.result('c1');
    h.advanceTo(300_000, 10);
    expect(h.state()).toBe('idle');
    expect(h.status()).toBe('active');
    expect(h.ctx().error).toBeNull();
    expect(h.closes).toEqual([]);
    expect(h.pings).toEqual(Array.from({ length: 30 }, (_, i) => (i + 1) * 10_000));
  });

  it('a device that stops answering goes SILENT one silent timeout after its last pong, though pings continue', () => {
    const h = device();
    h.advanceTo(10_000);
    h.send({ type: 'device.pong' });
    h.advanceTo(20_000);
    h.send({ type: 'device.pong' }); // last line heard
    h.advanceTo(49_999);
    expect(h.pings).toEqual([10_000, 20_000, 30_000, 40_000]);
    expect(h.state()).toBe('idle');
    h.advance(1);
    expect(h.ctx().error).toMatchObject({ code: 'SILENT', timestamp: iso(50_000) });
    expect(h.closes).toEqual([{ reason: 'SILENT', at: 50_000 }]);
  });

  // Each scenario ends with one heard line at t = 20 s. Ack/result timeouts are long, so the
  // only timer that can end the device before 50 s is the silence timer: if that line did not
  // reset it, the device would be SILENT at 30 s or 35 s.
  const scenarios: Array<[string, (h: Harness) => void]> = [
    ['pong while idle', (h) => { h.advanceTo(20_000); h.send({ type: 'device.pong' }); }],
    ['status while idle', (h) => { h.advanceTo(20_000); h.send({ type: 'device.status', instance: 1, status: 'ready', config: {} }); }],
    ['ack of the in-flight command (awaitingAck → busy)', (h) => { h.advanceTo(15_000); h.submit('c1'); h.advanceTo(20_000); h.ack('c1'); expect(h.state()).toBe('busy'); }],
    ['result without ack (awaitingAck → idle)', (h) => { h.advanceTo(15_000); h.submit('c1'); h.advanceTo(20_000); h.result('c1'); expect(h.state()).toBe('idle'); }],
    ['result while busy (busy → idle)', (h) => { h.submit('c1'); h.advanceTo(5_000); h.ack('c1'); h.advanceTo(20_000); h.result('c1'); expect(h.state()).toBe('idle'); }],
    ['ack of another command while awaitingAck', (h) => { h.advanceTo(15_000); h.submit('c1'); h.advanceTo(20_000); h.ack('other'); expect(h.state()).toBe('awaitingAck'); }],
    ['result of another command while awaitingAck', (h) => { h.advanceTo(15_000); h.submit('c1'); h.advanceTo(20_000); h.result('other'); expect(h.state()).toBe('awaitingAck'); }],
    ['duplicate ack while busy', (h) => { h.submit('c1'); h.advanceTo(5_000); h.ack('c1'); h.advanceTo(20_000); h.ack('c1'); expect(h.state()).toBe('busy'); }],
    ['result of another command while busy', (h) => { h.submit('c1'); h.advanceTo(5_000); h.ack('c1'); h.advanceTo(20_000); h.result('other'); expect(h.state()).toBe('busy'); }],
    ['late ack while idle', (h) => { h.advanceTo(20_000); h.ack('old'); expect(h.state()).toBe('idle'); }],
    ['late result while idle', (h) => { h.advanceTo(20_000); h.result('old'); expect(h.state()).toBe('idle'); }],
    ['status while busy', (h) => { h.submit('c1'); h.advanceTo(5_000); h.ack('c1'); h.advanceTo(20_000); h.send({ type: 'device.status', instance: 2, status: 'x', config: {} }); expect(h.state()).toBe('busy'); }],
  ];

  it.each(scenarios)('a %s resets the silence timer', (_name, drive) => {
    const h = device({ timing: { ackTimeoutMs: 40_000, resultTimeoutMs: 40_000, heartbeatIntervalMs: 10_000, silentTimeoutMs: 30_000 } });
    drive(h);
    expect(h.clock.now()).toBe(20_000);
    h.advanceTo(49_999);
    expect(h.status()).toBe('active');
    expect(h.ctx().error).toBeNull();
    h.advance(1);
    expect(h.state()).toBe('failed');
    expect(h.ctx().error).toMatchObject({ code: 'SILENT', timestamp: iso(50_000) });
  });

  it('a late ack after a RESULT_TIMEOUT is heard (resets silence) and otherwise ignored', () => {
    const h = device({ timing: { resultTimeoutMs: 5_000 } });
    h.submit('c1');
    h.advanceTo(1_000);
    h.ack('c1'); // silence now due at 31 s
    h.advanceTo(6_000);
    expect(h.ctx().settled.map((o) => o.error?.code)).toEqual(['RESULT_TIMEOUT']);
    h.advanceTo(25_000);
    h.ack('c1'); // late
    expect(h.state()).toBe('idle');
    expect(h.ctx().settled.map((o) => o.error?.code)).toEqual(['RESULT_TIMEOUT']);
    h.advanceTo(54_999);
    expect(h.status()).toBe('active');
    h.advance(1);
    expect(h.ctx().error).toMatchObject({ code: 'SILENT', timestamp: iso(55_000) });
  });

  it('submitting a command is not hearing the device: it does not reset the silence timer', () => {
    const h = device({ timing: { ackTimeoutMs: 60_000 } });
    h.advanceTo(20_000);
    h.submit('c1');
    h.advanceTo(30_000);
    expect(h.ctx().error?.code).toBe('SILENT');
  });
});

describe('deviceSocketMachine: failures end the device', () => {
  type Failure = { event: DeviceSocketEvent; code: string; severity: 'warning' | 'error'; retryable: boolean; details?: Record<string, unknown> };
  const failures: Failure[] = [
    { event: { type: 'socket.error', code: 'SOCKET_RESET', message: 'ECONNRESET: read ECONNRESET' }, code: 'SOCKET_RESET', severity: 'error', retryable: true },
    { event: { type: 'socket.error', code: 'SOCKET_CLOSED', message: 'the device closed the connection' }, code: 'SOCKET_CLOSED', severity: 'error', retryable: true },
    { event: { type: 'socket.error', code: 'BROKEN_PIPE', message: 'EPIPE: write EPIPE' }, code: 'BROKEN_PIPE', severity: 'error', retryable: true },
    { event: { type: 'protocol.invalid', code: 'INVALID_JSON', message: 'Unexpected token' }, code: 'INVALID_JSON', severity: 'error', retryable: true },
    { event: { type: 'protocol.invalid', code: 'UNKNOWN_MESSAGE', message: 'type "bogus"' }, code: 'UNKNOWN_MESSAGE', severity: 'error', retryable: true },
    { event: { type: 'protocol.invalid', code: 'LINE_TOO_LONG', message: 'line longer than 64 KiB' }, code: 'LINE_TOO_LONG', severity: 'error', retryable: true },
    { event: { type: 'device.replaced', by: '10.0.0.5:press#2' }, code: 'REPLACED', severity: 'warning', retryable: false, details: { by: '10.0.0.5:press#2' } },
  ];

  /** Puts the device in `state` with some commands pending; returns them with their instances. */
  function driveTo(h: Harness, state: 'idle' | 'awaitingAck' | 'busy'): Array<[DeviceCommand, number]> {
    if (state === 'idle') {
      h.submit('done');
      h.result('done');
      expect(h.state()).toBe('idle');
      return [];
    }
    const c1 = h.submit('c1');
    const c2 = h.submit('c2');
    const c3 = h.submit('c3');
    if (state === 'busy') h.ack('c1');
    expect(h.state()).toBe(state);
    return [
      [c1, 1],
      [c2, 2],
      [c3, 3],
    ];
  }

  const cases = failures.flatMap((f) => (['idle', 'awaitingAck', 'busy'] as const).map((from) => [f.code, from, f] as const));

  it.each(cases)('%s from %s → failed, all pending failed with that error, socket closed, actor done', (code, from, f) => {
    const h = device();
    const pending = driveTo(h, from);
    h.advanceTo(1_234);
    h.send(f.event);
    expect(h.state()).toBe('failed');
    expect(h.status()).toBe('done');
    const error = h.ctx().error!;
    expect(error).toEqual({
      code,
      message: 'message' in f.event ? f.event.message : expect.stringContaining(DEVICE_ID),
      component: 'device-socket',
      severity: f.severity,
      retryable: f.retryable,
      timestamp: iso(1_234),
      details: { device_id: DEVICE_ID, ...f.details },
    });
    expect(h.ctx().settled).toEqual(pending.map(([c, instance]) => failedOutcome(c, instance, error)));
    expect(h.ctx().inFlight).toBeNull();
    expect(h.ctx().queue).toEqual([]);
    expect(h.closes).toEqual([{ reason: code, at: 1_234 }]);
    // final: nothing more happens, no ping, no second close
    const pings = h.pings.length;
    h.advance(120_000, 1_000);
    expect(h.pings).toHaveLength(pings);
    expect(h.closes).toHaveLength(1);
    expect(h.state()).toBe('failed');
  });

  it.each(['idle', 'awaitingAck', 'busy'] as const)('gateway.shutdown from %s → closed, every pending command failed GATEWAY_SHUTDOWN', (from) => {
    const h = device();
    const pending = driveTo(h, from);
    h.advanceTo(777);
    h.send({ type: 'gateway.shutdown' });
    expect(h.state()).toBe('closed');
    expect(h.status()).toBe('done');
    const error = h.ctx().error!;
    expect(error).toMatchObject({ code: 'GATEWAY_SHUTDOWN', component: 'device-socket', timestamp: iso(777), details: { device_id: DEVICE_ID } });
    expect(h.ctx().settled).toEqual(pending.map(([c, instance]) => failedOutcome(c, instance, error)));
    expect(h.pendingIds()).toEqual([]);
    expect(h.closes).toEqual([{ reason: 'GATEWAY_SHUTDOWN', at: 777 }]);
    const pings = h.pings.length;
    h.advance(120_000, 1_000);
    expect(h.pings).toHaveLength(pings);
    expect(h.state()).toBe('closed');
  });
});

describe('deviceSocketMachine: status and summary', () => {
  /** The ISO time of a status line received `ms` after the simulated start. */
  const T = (ms: number): string => new Date(ms).toISOString();

  it('device.status records each instance status and config, replacing the previous one, in any state', () => {
    const h = device();
    h.send({ type: 'device.status', instance: 1, status: 'ready', config: { speed: 1 } });
    expect(h.ctx().instances).toEqual({ 1: { status: 'ready', config: { speed: 1 }, at: T(0) } });
    h.submit('c1');
    h.ack('c1');
    h.send({ type: 'device.status', instance: 2, status: 'homing', config: {} });
    h.send({ type: 'device.status', instance: 1, status: 'moving', config: { speed: 2 } });
    expect(h.state()).toBe('busy');
    expect(h.ctx().instances).toEqual({ 1: { status: 'moving', config: { speed: 2 }, at: T(0) }, 2: { status: 'homing', config: {}, at: T(0) } });
    expect(h.ctx().inFlight?.command_id).toBe('c1');
  });

  it('summarizeDeviceSocket of a busy device with a queue', () => {
    const h = device({ timing: { resultTimeoutMs: 1_000 } });
    h.advanceTo(500);
    h.submit('c0');
    h.ack('c0');
    h.advanceTo(1_500); // c0 times out
    h.submit('c1');
    h.submit('c2', { instance: 1 });
    h.submit('c3');
    h.ack('c1');
    h.send({ type: 'device.status', instance: 3, status: 'ready', config: { mode: 'auto' } });
    expect(h.state()).toBe('busy');
    const summary = summarizeDeviceSocket(h.ctx());
    expect(summary).toEqual({
      device_id: DEVICE_ID,
      name: 'press',
      nodes: 3,
      remote: '10.0.0.5',
      gateway: 'gw-1',
      connected_at: iso(0),
      pending: [
        { command_id: 'c1', node_id: 'node-c1', instance: 2, status: 'in progress', accepted_at: '2024-05-01T13:35:00.000Z' },
        { command_id: 'c2', node_id: 'node-c2', instance: 1, status: 'started', accepted_at: '2024-05-01T13:35:00.000Z' },
        { command_id: 'c3', node_id: 'node-c3', instance: 3, status: 'started', accepted_at: '2024-05-01T13:35:00.000Z' },
      ],
      settled: [
        {
          command_id: 'c0',
          node_id: 'node-c0',
          instance: 1,
          accepted_at: '2024-05-01T13:35:00.000Z',
          status: 'failed',
          error: expect.objectContaining({ code: 'RESULT_TIMEOUT', timestamp: iso(1_500) }),
        },
      ],
      instances: { 3: { status: 'ready', config: { mode: 'auto' }, at: expect.any(String) } },
    });
    // the summary is plain data: no params, no functions, JSON round-trips
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
    expect(summary.pending[0]).not.toHaveProperty('params');
  });

  it('summarizeDeviceSocket of an idle device lists nothing pending', () => {
    const h = device();
    expect(summarizeDeviceSocket(h.ctx())).toMatchObject({ pending: [], settled: [], instances: {} });
  });
});

describe('deviceSocketMachine hosted by hostActor', () => {
  it('records submit, ack, socket reset as idle → awaitingAck → busy → failed, gap-free, with the error and the failed command', () => {
    const clock = new SimulatedClock();
    const records: TransitionRecord[] = [];
    const closes: string[] = [];
    const machine = deviceSocketMachine.provide({
      actions: { sendCommand: () => {}, sendPing: () => {}, closeSocket: (_, { reason }) => void closes.push(reason) },
    });
    const hosted = hostActor({
      machine,
      kind: 'device',
      id: DEVICE_ID,
      input: { deviceId: DEVICE_ID, name: 'press', nodes: 2, remote: '10.0.0.5', gateway: 'gw-1', now: () => clock.now() },
      sink: { enqueue: (r, cb) => { records.push(r); cb?.(); } },
      summarize: (s) => summarizeDeviceSocket(s.context),
      errorOf: (s) => s.context.error ?? undefined,
      now: () => clock.now(),
      clock,
    });
    clock.increment(100);
    hosted.send({ type: 'command.submitted', command: cmd('c1') });
    clock.increment(100);
    hosted.send({ type: 'device.ack', id: 'c1' });
    clock.increment(100);
    hosted.send({ type: 'socket.error', code: 'SOCKET_RESET', message: 'ECONNRESET' });

    // seq gap-free; idle → awaitingAck → busy → failed (the idle → idle record is the
    // command being queued: a context-only microstep before the eventless move to awaitingAck)
    expect(records.map((r) => [r.seq, r.from, r.to, r.event])).toEqual([
      [1, null, 'idle', 'xstate.init'],
      [2, 'idle', 'idle', 'command.submitted'],
      [3, 'idle', 'awaitingAck', 'command.submitted'],
      [4, 'awaitingAck', 'busy', 'device.ack'],
      [5, 'busy', 'failed', 'socket.error'],
    ]);
    expect(records[0]).toMatchObject({ from: null, to: 'idle', event: 'xstate.init', at: iso(0) });

    const awaiting = records.find((r) => r.to === 'awaitingAck')!;
    expect(awaiting).toMatchObject({ from: 'idle', at: iso(100) });
    expect(awaiting.context.pending).toEqual([expect.objectContaining({ command_id: 'c1', status: 'started', instance: 1 })]);
    const busy = records.find((r) => r.to === 'busy')!;
    expect(busy).toMatchObject({ from: 'awaitingAck', event: 'device.ack', at: iso(200) });
    expect(busy.context.pending).toEqual([expect.objectContaining({ command_id: 'c1', status: 'in progress' })]);

    const failed = records.at(-1)!;
    expect(failed).toMatchObject({ from: 'busy', to: 'failed', event: 'socket.error', at: iso(300) });
    expect(failed.error).toMatchObject({ code: 'SOCKET_RESET', message: 'ECONNRESET', timestamp: iso(300) });
    expect(failed.context.pending).toEqual([]);
    expect(failed.context.settled).toEqual([
      expect.objectContaining({ command_id: 'c1', node_id: 'node-c1', instance: 1, status: 'failed', error: expect.objectContaining({ code: 'SOCKET_RESET' }) }),
    ]);
    // the error is attached only where it appeared
    expect(records.filter((r) => r.error !== undefined)).toEqual([failed]);
    expect(records.filter((r) => r.to === 'failed')).toHaveLength(1);
    for (const r of records) {
      expect(transitionRecordSchema.parse(r)).toEqual(r);
      expect(r.incarnation).toBe(hosted.incarnation);
    }
    expect(hosted.seq()).toBe(records.length);
    expect(closes).toEqual(['SOCKET_RESET']);
    expect(hosted.actor.getSnapshot().status).toBe('done');
  });

  it('does not record heartbeat ticks or pongs (they change neither the state nor the summary)', () => {
    const clock = new SimulatedClock();
    const records: TransitionRecord[] = [];
    let pings = 0;
    const hosted = hostActor({
      machine: deviceSocketMachine.provide({ actions: { sendCommand: () => {}, sendPing: () => void pings++, closeSocket: () => {} } }),
      kind: 'device',
      id: DEVICE_ID,
      input: { deviceId: DEVICE_ID, name: 'press', nodes: 1, remote: '10.0.0.5', gateway: 'gw-1', now: () => clock.now() },
      sink: { enqueue: (r) => void records.push(r) },
      summarize: (s) => summarizeDeviceSocket(s.context),
      errorOf: (s) => s.context.error ?? undefined,
      now: () => clock.now(),
      clock,
    });
    for (let t = 0; t < 5; t++) {
      clock.increment(10_000);
      hosted.send({ type: 'device.pong' });
    }
    expect(pings).toBe(5);
    expect(records.map((r) => r.to)).toEqual(['idle']);
    hosted.stop();
  });
});

// ---------------------------------------------------------------------------------------
// Property: no command is ever lost or settled twice, and a failure leaves nothing pending.
// ---------------------------------------------------------------------------------------

type Step =
  | { kind: 'submit'; instance: number | undefined }
  | { kind: 'ack'; target: 'inFlight' | number }
  | { kind: 'result'; target: 'inFlight' | number; ok: boolean }
  | { kind: 'pong' }
  | { kind: 'status'; instance: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'fail'; event: DeviceSocketEvent };

const failureEvent = fc.constantFrom<DeviceSocketEvent>(
  { type: 'socket.error', code: 'SOCKET_RESET', message: 'reset' },
  { type: 'socket.error', code: 'SOCKET_CLOSED', message: 'closed' },
  { type: 'socket.error', code: 'BROKEN_PIPE', message: 'pipe' },
  { type: 'protocol.invalid', code: 'INVALID_JSON', message: 'json' },
  { type: 'protocol.invalid', code: 'UNKNOWN_MESSAGE', message: 'unknown' },
  { type: 'protocol.invalid', code: 'LINE_TOO_LONG', message: 'long' },
  { type: 'device.replaced', by: 'other' },
  { type: 'gateway.shutdown' },
);

const target = fc.oneof({ arbitrary: fc.constant('inFlight' as const), weight: 3 }, { arbitrary: fc.nat(12), weight: 1 });

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('submit' as const), instance: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('ack' as const), target }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('result' as const), target, ok: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('pong' as const) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('status' as const), instance: fc.integer({ min: 1, max: 4 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 180 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('fail' as const), event: failureEvent }), weight: 1 },
);

describe('deviceSocketMachine: property', () => {
  it('every submitted command is exactly once pending or settled; after a failure nothing is pending', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(step, { maxLength: 60 }), (nodes, steps) => {
        const h = device({ nodes, timing: { ackTimeoutMs: 50, resultTimeoutMs: 80, heartbeatIntervalMs: 40, silentTimeoutMs: 150 } });
        const submitted: string[] = [];
        const valid: string[] = [];
        /** What the device said, per command id: acks, ok results, failed results. */
        const heard = { ack: new Set<string>(), ok: new Set<string>(), notOk: new Set<string>() };
        let n = 0;

        const check = (): void => {
          const c = h.ctx();
          const pending = h.pendingIds();
          const settledIds = h.outcomes.map((o) => o.command_id);
          // exactly once: pending ∪ settled is the submitted multiset
          expect([...pending, ...settledIds].sort()).toEqual([...submitted].sort());
          // at most one in flight, and the state says which phase it is in
          const state = h.state();
          if (state === 'idle') expect(c.inFlight === null && c.queue.length === 0).toBe(true);
          if (state === 'awaitingAck') expect(c.inFlight?.status).toBe('started');
          if (state === 'busy') expect(c.inFlight?.status).toBe('in progress');
          // only the device's own words about a command move it
          if (c.inFlight?.status === 'in progress') expect(heard.ack.has(c.inFlight.command_id)).toBe(true);
          for (const o of h.outcomes) {
            if (o.status === 'completed') expect(heard.ok.has(o.command_id)).toBe(true);
            if (o.error?.code === 'DEVICE_REPORTED_FAILURE') expect(heard.notOk.has(o.command_id)).toBe(true);
          }
          expect(c.queue.every((q) => q.status === 'started')).toBe(true);
          // sent once each, first come first served, valid ones only, with a valid instance
          expect(h.sent.map((s) => s.command_id)).toEqual(valid.slice(0, h.sent.length));
          expect(h.sent.every((s) => Number.isInteger(s.instance) && s.instance >= 1 && s.instance <= nodes)).toBe(true);
          if (h.status() === 'done') {
            expect(['failed', 'closed']).toContain(state);
            expect(pending).toEqual([]);
            expect(c.error).not.toBeNull();
            expect(c.settled.every((o) => o.status === 'failed' && o.error === c.error)).toBe(true);
            expect(h.closes).toHaveLength(1);
          } else {
            expect(h.closes).toHaveLength(0);
            expect(c.error).toBeNull();
          }
        };

        for (const s of steps) {
          if (h.status() === 'done') break;
          const inFlight = h.ctx().inFlight?.command_id ?? 'none';
          const idOf = (t: 'inFlight' | number): string => (t === 'inFlight' ? inFlight : (submitted[t] ?? `unknown-${t}`));
          switch (s.kind) {
            case 'submit': {
              const id = `c${n++}`;
              submitted.push(id);
              if (s.instance === undefined || (s.instance >= 1 && s.instance <= nodes)) valid.push(id);
              h.submit(id, s.instance === undefined ? {} : { instance: s.instance });
              break;
            }
            case 'ack':
              heard.ack.add(idOf(s.target));
              h.ack(idOf(s.target));
              break;
            case 'result':
              (s.ok ? heard.ok : heard.notOk).add(idOf(s.target));
              h.result(idOf(s.target), s.ok);
              break;
            case 'pong':
              h.send({ type: 'device.pong' });
              break;
            case 'status':
              h.send({ type: 'device.status', instance: s.instance, status: 'ok', config: {} });
              break;
            case 'advance':
              h.advance(s.ms);
              break;
            case 'fail':
              h.send(s.event);
              expect(h.status()).toBe('done');
              break;
          }
          check();
        }
        // whatever is left either settles by time or stays pending on a live device
        h.advance(400, 5);
        check();
        expect(h.status()).toBe('done'); // with no further line heard, silence ends it
        expect(h.pendingIds()).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
