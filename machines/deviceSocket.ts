import { assign, cancel, raise, setup } from 'xstate';
import { createErrorEvent, type ErrorEvent } from './lib/errorEvent.ts';

/**
 * One physical device's TCP socket, from its `hello` to its end. Pure: the socket is
 * reached only through the named actions `sendCommand`, `sendPing` and `closeSocket`,
 * which the device gateway provides with `machine.provide(...)`.
 *
 *   idle ──command──► awaitingAck ──ack──► busy ──result──► idle (next queued command)
 *     any state ──socket error / bad line / silence / no ack / replaced──► failed
 *     any state ──gateway.shutdown──► closed
 *
 * Liveness runs beside the states as two named delays: `heartbeatInterval` (send a
 * ping) and `silentTimeout` (nothing heard → failed SILENT); every line heard resets it.
 */

export const DEVICE_ERROR_CODES = [
  'SOCKET_RESET',
  'SOCKET_CLOSED',
  'BROKEN_PIPE',
  'INVALID_JSON',
  'UNKNOWN_MESSAGE',
  'LINE_TOO_LONG',
  'NO_ACK',
  'SILENT',
  'HELLO_TIMEOUT',
  'REPLACED',
] as const;
export type DeviceErrorCode = (typeof DEVICE_ERROR_CODES)[number];
export type SocketErrorCode = 'SOCKET_RESET' | 'SOCKET_CLOSED' | 'BROKEN_PIPE';
export type ProtocolErrorCode = 'INVALID_JSON' | 'UNKNOWN_MESSAGE' | 'LINE_TOO_LONG';
/** Codes that fail one flow but leave the device connected. */
export type FlowErrorCode = 'RESULT_TIMEOUT' | 'DEVICE_REPORTED_FAILURE' | 'INVALID_INSTANCE' | 'GATEWAY_SHUTDOWN';

export interface DeviceCommand {
  command_id: string;
  node_id: string;
  command: string;
  params: Record<string, unknown>;
  instance?: number;
  accepted_at: string;
}

export interface PendingCommand extends DeviceCommand {
  instance: number;
  status: 'started' | 'in progress';
}

export interface CommandOutcome {
  command_id: string;
  node_id: string;
  instance: number;
  accepted_at: string;
  status: 'completed' | 'failed';
  error?: ErrorEvent;
}

export interface DeviceTiming {
  ackTimeoutMs: number;
  resultTimeoutMs: number;
  heartbeatIntervalMs: number;
  silentTimeoutMs: number;
}

export const DEFAULT_DEVICE_TIMING: DeviceTiming = {
  ackTimeoutMs: 5_000,
  resultTimeoutMs: 60_000,
  heartbeatIntervalMs: 10_000,
  silentTimeoutMs: 30_000,
};

export interface DeviceSocketInput {
  deviceId: string;
  name: string;
  nodes: number;
  remote: string;
  gateway: string;
  timing?: Partial<DeviceTiming>;
  now?: () => number;
}

export interface DeviceSocketContext {
  deviceId: string;
  name: string;
  nodes: number;
  remote: string;
  gateway: string;
  connectedAt: string;
  timing: DeviceTiming;
  now: () => number;
  queue: PendingCommand[];
  inFlight: PendingCommand | null;
  /** Outcomes settled by the latest transition that settled any (replaced, not appended). */
  settled: CommandOutcome[];
  /** Per instance, the last `status` line and when it arrived (ISO time). */
  instances: Record<number, { status: string; config: Record<string, unknown>; at: string }>;
  nextInstance: number;
  error: ErrorEvent | null;
}

export type DeviceSocketEvent =
  | { type: 'command.submitted'; command: DeviceCommand }
  | { type: 'device.ack'; id: string }
  | { type: 'device.result'; id: string; ok: boolean; error?: string }
  | { type: 'device.status'; instance: number; status: string; config: Record<string, unknown> }
  | { type: 'device.pong' }
  | { type: 'socket.error'; code: SocketErrorCode; message: string }
  | { type: 'protocol.invalid'; code: ProtocolErrorCode; message: string }
  | { type: 'device.replaced'; by: string }
  | { type: 'gateway.shutdown' }
  | { type: 'timer.heartbeat' }
  | { type: 'timer.silent' };

const COMPONENT = 'device-socket';
/** Trying the same thing again will fail the same way. */
const NOT_RETRYABLE = new Set(['REPLACED', 'DEVICE_REPORTED_FAILURE', 'INVALID_INSTANCE']);

function deviceError(context: DeviceSocketContext, code: string, message: string, details?: Record<string, unknown>): ErrorEvent {
  const retryable = !NOT_RETRYABLE.has(code);
  return createErrorEvent({
    code,
    message,
    component: COMPONENT,
    severity: code === 'REPLACED' ? 'warning' : 'error',
    retryable,
    at: context.now(),
    ...(details ? { details: { device_id: context.deviceId, ...details } } : { details: { device_id: context.deviceId } }),
  });
}

function outcome(command: PendingCommand, status: 'completed' | 'failed', error?: ErrorEvent): CommandOutcome {
  const o: CommandOutcome = {
    command_id: command.command_id,
    node_id: command.node_id,
    instance: command.instance,
    accepted_at: command.accepted_at,
    status,
  };
  if (error) o.error = error;
  return o;
}

/** Every command still pending, in-flight first, as failed outcomes carrying `error`. */
function failAllPending(context: DeviceSocketContext, error: ErrorEvent): CommandOutcome[] {
  const all = context.inFlight ? [context.inFlight, ...context.queue] : context.queue;
  return all.map((c) => outcome(c, 'failed', error));
}

const SILENCE_TIMER = 'silence';
const HEARTBEAT_TIMER = 'heartbeat';

export const deviceSocketMachine = setup({
  types: {
    context: {} as DeviceSocketContext,
    events: {} as DeviceSocketEvent,
    input: {} as DeviceSocketInput,
  },
  actions: {
    /** Provided by the gateway: write the command line to the socket. */
    sendCommand: (_, _params: { command: PendingCommand }) => {},
    /** Provided by the gateway: write `{"type":"ping"}`. */
    sendPing: () => {},
    /** Provided by the gateway: close (or destroy) the socket. */
    closeSocket: (_, _params: { reason: string }) => {},
    enqueue: assign(({ context, event }) => {
      if (event.type !== 'command.submitted') return {};
      const cmd = event.command;
      if (cmd.instance !== undefined && (cmd.instance < 1 || cmd.instance > context.nodes)) {
        const error = deviceError(context, 'INVALID_INSTANCE', `instance ${cmd.instance} is not between 1 and ${context.nodes}`, {
          command_id: cmd.command_id,
        });
        return { settled: [outcome({ ...cmd, instance: cmd.instance, status: 'started' }, 'failed', error)] };
      }
      const instance = cmd.instance ?? context.nextInstance;
      const nextInstance = cmd.instance === undefined ? (context.nextInstance % context.nodes) + 1 : context.nextInstance;
      return { queue: [...context.queue, { ...cmd, instance, status: 'started' as const }], nextInstance };
    }),
    takeNextCommand: assign(({ context }) => {
      const [next, ...rest] = context.queue;
      return { inFlight: next ?? null, queue: rest };
    }),
    markInProgress: assign(({ context }) => ({
      inFlight: context.inFlight ? { ...context.inFlight, status: 'in progress' as const } : null,
    })),
    settleResult: assign(({ context, event }) => {
      if (event.type !== 'device.result' || !context.inFlight) return {};
      const done = event.ok
        ? outcome(context.inFlight, 'completed')
        : outcome(
            context.inFlight,
            'failed',
            deviceError(context, 'DEVICE_REPORTED_FAILURE', event.error ?? 'the device reported a failure', {
              command_id: context.inFlight.command_id,
            }),
          );
      return { inFlight: null, settled: [done] };
    }),
    settleResultTimeout: assign(({ context }) => {
      if (!context.inFlight) return {};
      const error = deviceError(context, 'RESULT_TIMEOUT', `no result within ${context.timing.resultTimeoutMs} ms`, {
        command_id: context.inFlight.command_id,
      });
      return { inFlight: null, settled: [outcome(context.inFlight, 'failed', error)] };
    }),
    recordStatus: assign(({ context, event }) => {
      if (event.type !== 'device.status') return {};
      const at = new Date(context.now()).toISOString();
      return { instances: { ...context.instances, [event.instance]: { status: event.status, config: event.config, at } } };
    }),
    fail: assign(({ context }, params: { error: ErrorEvent }) => ({
      error: params.error,
      settled: failAllPending(context, params.error),
      queue: [],
      inFlight: null,
    })),
    armSilence: raise({ type: 'timer.silent' }, { id: SILENCE_TIMER, delay: 'silentTimeout' }),
    disarmSilence: cancel(SILENCE_TIMER),
    armHeartbeat: raise({ type: 'timer.heartbeat' }, { id: HEARTBEAT_TIMER, delay: 'heartbeatInterval' }),
    disarmHeartbeat: cancel(HEARTBEAT_TIMER),
  },
  guards: {
    hasQueued: ({ context }) => context.queue.length > 0,
    isInFlight: ({ context, event }) =>
      (event.type === 'device.ack' || event.type === 'device.result') && context.inFlight?.command_id === event.id,
  },
  delays: {
    ackTimeout: ({ context }) => context.timing.ackTimeoutMs,
    resultTimeout: ({ context }) => context.timing.resultTimeoutMs,
    heartbeatInterval: ({ context }) => context.timing.heartbeatIntervalMs,
    silentTimeout: ({ context }) => context.timing.silentTimeoutMs,
  },
}).createMachine({
  id: 'deviceSocket',
  context: ({ input }) => {
    const now = input.now ?? Date.now;
    return {
      deviceId: input.deviceId,
      name: input.name,
      nodes: input.nodes,
      remote: input.remote,
      gateway: input.gateway,
      connectedAt: new Date(now()).toISOString(),
      timing: { ...DEFAULT_DEVICE_TIMING, ...input.timing },
      now,
      queue: [],
      inFlight: null,
      settled: [],
      instances: {},
      nextInstance: 1,
      error: null,
    };
  },
  entry: ['armSilence', 'armHeartbeat'],
  initial: 'idle',
  on: {
    'command.submitted': { actions: 'enqueue' },
    'device.status': { actions: ['disarmSilence', 'armSilence', 'recordStatus'] },
    'device.pong': { actions: ['disarmSilence', 'armSilence'] },
    // a late ack or result of a command that already timed out: heard, otherwise ignored
    'device.ack': { actions: ['disarmSilence', 'armSilence'] },
    'device.result': { actions: ['disarmSilence', 'armSilence'] },
    'timer.heartbeat': { actions: ['sendPing', 'armHeartbeat'] },
    'timer.silent': {
      target: '.failed',
      actions: {
        type: 'fail',
        params: ({ context }) => ({ error: deviceError(context, 'SILENT', `nothing heard for ${context.timing.silentTimeoutMs} ms`) }),
      },
    },
    'socket.error': {
      target: '.failed',
      actions: { type: 'fail', params: ({ context, event }) => ({ error: deviceError(context, event.code, event.message) }) },
    },
    'protocol.invalid': {
      target: '.failed',
      actions: { type: 'fail', params: ({ context, event }) => ({ error: deviceError(context, event.code, event.message) }) },
    },
    'device.replaced': {
      target: '.failed',
      actions: {
        type: 'fail',
        params: ({ context, event }) => ({
          error: deviceError(context, 'REPLACED', `a new connection of ${context.deviceId} replaced this one`, { by: event.by }),
        }),
      },
    },
    'gateway.shutdown': {
      target: '.closed',
      actions: {
        type: 'fail',
        params: ({ context }) => ({ error: deviceError(context, 'GATEWAY_SHUTDOWN', 'the device gateway is shutting down') }),
      },
    },
  },
  states: {
    idle: {
      always: { guard: 'hasQueued', target: 'awaitingAck' },
    },
    awaitingAck: {
      entry: ['takeNextCommand', { type: 'sendCommand', params: ({ context }) => ({ command: context.inFlight! }) }],
      after: {
        ackTimeout: {
          target: 'failed',
          actions: {
            type: 'fail',
            params: ({ context }) => ({
              error: deviceError(context, 'NO_ACK', `no ack within ${context.timing.ackTimeoutMs} ms`, {
                command_id: context.inFlight?.command_id,
              }),
            }),
          },
        },
      },
      on: {
        'device.ack': [
          { guard: 'isInFlight', target: 'busy', actions: ['disarmSilence', 'armSilence', 'markInProgress'] },
          { actions: ['disarmSilence', 'armSilence'] },
        ],
        // a result without its ack: the ack was implied
        'device.result': [
          { guard: 'isInFlight', target: 'idle', actions: ['disarmSilence', 'armSilence', 'settleResult'] },
          { actions: ['disarmSilence', 'armSilence'] },
        ],
      },
    },
    busy: {
      after: { resultTimeout: { target: 'idle', actions: 'settleResultTimeout' } },
      on: {
        'device.ack': { actions: ['disarmSilence', 'armSilence'] },
        'device.result': [
          { guard: 'isInFlight', target: 'idle', actions: ['disarmSilence', 'armSilence', 'settleResult'] },
          { actions: ['disarmSilence', 'armSilence'] },
        ],
      },
    },
    failed: {
      type: 'final',
      entry: ['disarmSilence', 'disarmHeartbeat', { type: 'closeSocket', params: ({ context }) => ({ reason: context.error?.code ?? 'FAILED' }) }],
    },
    closed: {
      type: 'final',
      entry: ['disarmSilence', 'disarmHeartbeat', { type: 'closeSocket', params: { reason: 'GATEWAY_SHUTDOWN' } }],
    },
  },
});

/** The public summary that goes into every transition record of a device. */
export function summarizeDeviceSocket(context: DeviceSocketContext) {
  const pending = context.inFlight ? [context.inFlight, ...context.queue] : context.queue;
  return {
    device_id: context.deviceId,
    name: context.name,
    nodes: context.nodes,
    remote: context.remote,
    gateway: context.gateway,
    connected_at: context.connectedAt,
    pending: pending.map((c) => ({
      command_id: c.command_id,
      node_id: c.node_id,
      instance: c.instance,
      status: c.status,
      accepted_at: c.accepted_at,
    })),
    settled: context.settled,
    instances: context.instances,
  };
}

export type DeviceSocketSummary = ReturnType<typeof summarizeDeviceSocket>;
