import { assign, setup } from 'xstate';
import { createErrorEvent, type ErrorEvent } from './lib/errorEvent.ts';

/**
 * One dashboard WebSocket connection (kind `client`). Pure: the socket is reached only
 * through named actions (`writeFrame`, `writeNotice`, `sendPing`, `closeSocket`,
 * `terminateSocket`, `announceDisconnect`, `reportDrop`) that the hub provides.
 *
 *   open ─frame.send over maxQueueBytes─► closing (SLOW_CLIENT notice, close 4008)
 *    │   ─maxWriteErrors write.failed in a row─► closing (close 1011)
 *    │   ─pingInterval with maxMissedPongs pings unanswered─► closed (terminated, DEAD_CLIENT)
 *    │   ─server.shutdown─► shuttingDown (SERVER_SHUTDOWN notice, close 1001) ─► closed (not announced)
 *    └─socket.closed─► closed (a close other than 1000/1001 from the client is announced)
 *   closing ─socket.closed─► closed;  closing ─closeTimeout─► closed (terminated)
 *
 * The send queue is the socket's own buffer: every `frame.send` carries the bytes already
 * buffered, so the bound is checked here, per frame, without the machine touching a socket.
 */

export interface WsClientTiming {
  /** The most bytes waiting to be sent to this client; one more frame past it is SLOW_CLIENT. */
  maxQueueBytes: number;
  /** Consecutive failed writes that close the connection. */
  maxWriteErrors: number;
  /** A protocol ping this often … */
  pingIntervalMs: number;
  /** … and this many unanswered in a row: the client is dead. */
  maxMissedPongs: number;
  /** After our close frame, the client has this long to close before the socket is destroyed. */
  closeTimeoutMs: number;
}

export const DEFAULT_WS_CLIENT_TIMING: WsClientTiming = {
  maxQueueBytes: 1024 * 1024,
  maxWriteErrors: 3,
  pingIntervalMs: 30_000,
  maxMissedPongs: 2,
  closeTimeoutMs: 5_000,
};

/** Close codes of the hub (4000–4999 are the application's). */
export const CLOSE_CODES = {
  normal: 1000,
  shutdown: 1001,
  writeErrors: 1011,
  slowClient: 4008,
  deadClient: 4009,
} as const;

export type WsClientErrorCode = 'SLOW_CLIENT' | 'WRITE_ERRORS' | 'DEAD_CLIENT' | 'CLIENT_DISCONNECTED' | 'SERVER_SHUTDOWN';

export interface WsClientInput {
  clientId: string;
  remote: string;
  topics: string[];
  timing?: Partial<WsClientTiming>;
  now?: () => number;
}

export interface WsClientContext {
  clientId: string;
  remote: string;
  topics: string[];
  timing: WsClientTiming;
  now: () => number;
  connectedAt: number;
  writeErrors: number;
  missedPongs: number;
  awaitingPong: boolean;
  closeCode: number | null;
  closeReason: string | null;
  error: ErrorEvent | null;
}

export type WsClientEvent =
  | { type: 'frame.send'; frame: string; bytes: number; buffered: number }
  | { type: 'write.ok' }
  | { type: 'write.failed'; message: string }
  | { type: 'pong.received' }
  | { type: 'topics.set'; topics: string[] }
  | { type: 'server.shutdown' }
  | { type: 'socket.closed'; code: number; reason: string };

/** A typed message written even when the queue is full (it is the last thing the client gets). */
export interface WsNotice {
  type: string;
  code: string;
  message: string;
}

const COMPONENT = 'ws-client';

function clientError(context: WsClientContext, code: WsClientErrorCode, message: string, details: Record<string, unknown> = {}): ErrorEvent {
  return createErrorEvent({
    code,
    message,
    component: COMPONENT,
    severity: code === 'SERVER_SHUTDOWN' ? 'warning' : 'error',
    retryable: true,
    at: context.now(),
    details: { client_id: context.clientId, remote: context.remote, ...details },
  });
}

/** The send-queue bound: whether one more frame of `bytes` fits behind `buffered` bytes. */
export function queueHasRoom(timing: Pick<WsClientTiming, 'maxQueueBytes'>, buffered: number, bytes: number): boolean {
  return buffered + bytes <= timing.maxQueueBytes;
}

/** A close the client asked for normally (1000 going away by choice, 1001 page left). */
const isNormalClose = (code: number): boolean => code === CLOSE_CODES.normal || code === CLOSE_CODES.shutdown;

export const wsClientMachine = setup({
  types: {
    context: {} as WsClientContext,
    events: {} as WsClientEvent,
    input: {} as WsClientInput,
  },
  actions: {
    writeFrame: (_, _params: { frame: string }) => {},
    writeNotice: (_, _params: WsNotice) => {},
    sendPing: () => {},
    closeSocket: (_, _params: { code: number; reason: string }) => {},
    terminateSocket: () => {},
    /** Tell the other clients this one went away unexpectedly (CLIENT_DISCONNECTED; context.error says why). */
    announceDisconnect: () => {},
    /** Count and log a drop decided here (slow client, write errors, dead client; context.error says why). */
    reportDrop: () => {},
    markSlow: assign(({ context, event }) => {
      const e = event as Extract<WsClientEvent, { type: 'frame.send' }>;
      return {
        closeCode: CLOSE_CODES.slowClient,
        closeReason: 'SLOW_CLIENT',
        error: clientError(context, 'SLOW_CLIENT', `client ${context.clientId}: send buffer full (${e.buffered + e.bytes} > ${context.timing.maxQueueBytes} bytes), connection closing`, {
          buffered: e.buffered,
          frame_bytes: e.bytes,
          max_queue_bytes: context.timing.maxQueueBytes,
        }),
      };
    }),
    countWriteError: assign(({ context }) => ({ writeErrors: context.writeErrors + 1 })),
    resetWriteErrors: assign({ writeErrors: 0 }),
    markWriteErrors: assign(({ context, event }) => ({
      closeCode: CLOSE_CODES.writeErrors,
      closeReason: 'WRITE_ERRORS',
      error: clientError(context, 'WRITE_ERRORS', `client ${context.clientId}: ${context.writeErrors} consecutive write errors (last: ${(event as { message?: string }).message ?? '?'})`, {
        write_errors: context.writeErrors,
      }),
    })),
    notePing: assign(({ context }) => ({ missedPongs: context.awaitingPong ? context.missedPongs + 1 : 0, awaitingPong: true })),
    notePong: assign({ missedPongs: 0, awaitingPong: false }),
    markDead: assign(({ context }) => ({
      closeCode: CLOSE_CODES.deadClient,
      closeReason: 'DEAD_CLIENT',
      error: clientError(context, 'DEAD_CLIENT', `client ${context.clientId}: ${context.missedPongs + 1} pings unanswered, closed as dead`, {
        missed_pongs: context.missedPongs + 1,
        ping_interval_ms: context.timing.pingIntervalMs,
      }),
    })),
    markShutdown: assign(({ context }) => ({
      closeCode: CLOSE_CODES.shutdown,
      closeReason: 'SERVER_SHUTDOWN',
      error: clientError(context, 'SERVER_SHUTDOWN', 'server shutting down; please reconnect after restart'),
    })),
    setTopics: assign(({ event }) => ({ topics: (event as Extract<WsClientEvent, { type: 'topics.set' }>).topics })),
    recordClose: assign(({ context, event }) => {
      const e = event as Extract<WsClientEvent, { type: 'socket.closed' }>;
      if (context.closeReason) return {};
      const error = isNormalClose(e.code)
        ? null
        : clientError(context, 'CLIENT_DISCONNECTED', `client ${context.clientId} disconnected unexpectedly (close code ${e.code}${e.reason ? `: ${e.reason}` : ''})`, {
            close_code: e.code,
          });
      return { closeCode: e.code, closeReason: e.reason || (isNormalClose(e.code) ? 'client closed' : 'CLIENT_DISCONNECTED'), error };
    }),
  },
  guards: {
    overflows: ({ context, event }) => {
      const e = event as Extract<WsClientEvent, { type: 'frame.send' }>;
      return !queueHasRoom(context.timing, e.buffered, e.bytes);
    },
    lastWriteError: ({ context }) => context.writeErrors + 1 >= context.timing.maxWriteErrors,
    pongOverdue: ({ context }) => context.awaitingPong && context.missedPongs + 1 >= context.timing.maxMissedPongs,
    unexpectedClose: ({ event }) => !isNormalClose((event as Extract<WsClientEvent, { type: 'socket.closed' }>).code),
  },
  delays: {
    pingInterval: ({ context }) => context.timing.pingIntervalMs,
    closeTimeout: ({ context }) => context.timing.closeTimeoutMs,
  },
}).createMachine({
  id: 'wsClient',
  context: ({ input }) => {
    const now = input.now ?? Date.now;
    return {
      clientId: input.clientId,
      remote: input.remote,
      topics: input.topics,
      timing: { ...DEFAULT_WS_CLIENT_TIMING, ...input.timing },
      now,
      connectedAt: now(),
      writeErrors: 0,
      missedPongs: 0,
      awaitingPong: false,
      closeCode: null,
      closeReason: null,
      error: null,
    };
  },
  initial: 'open',
  states: {
    open: {
      after: {
        pingInterval: [
          { guard: 'pongOverdue', target: 'closed', actions: ['markDead', 'terminateSocket', 'reportDrop', 'announceDisconnect'] },
          { target: 'open', reenter: true, actions: ['notePing', 'sendPing'] },
        ],
      },
      on: {
        'frame.send': [
          {
            guard: 'overflows',
            target: 'closing',
            actions: [
              'markSlow',
              { type: 'writeNotice', params: { type: 'error', code: 'SLOW_CLIENT', message: 'buffer full, connection closing' } },
              { type: 'closeSocket', params: { code: CLOSE_CODES.slowClient, reason: 'SLOW_CLIENT' } },
              'reportDrop',
            ],
          },
          { actions: { type: 'writeFrame', params: ({ event }) => ({ frame: event.frame }) } },
        ],
        'write.ok': { actions: 'resetWriteErrors' },
        'write.failed': [
          {
            guard: 'lastWriteError',
            target: 'closing',
            actions: ['countWriteError', 'markWriteErrors', { type: 'closeSocket', params: { code: CLOSE_CODES.writeErrors, reason: 'WRITE_ERRORS' } }, 'reportDrop'],
          },
          { actions: 'countWriteError' },
        ],
        'pong.received': { actions: 'notePong' },
        'topics.set': { actions: 'setTopics' },
        'server.shutdown': {
          target: 'shuttingDown',
          actions: [
            'markShutdown',
            { type: 'writeNotice', params: { type: 'notification', code: 'SERVER_SHUTDOWN', message: 'please reconnect after restart' } },
            { type: 'closeSocket', params: { code: CLOSE_CODES.shutdown, reason: 'SERVER_SHUTDOWN' } },
          ],
        },
        'socket.closed': [
          { guard: 'unexpectedClose', target: 'closed', actions: ['recordClose', 'announceDisconnect'] },
          { target: 'closed', actions: 'recordClose' },
        ],
      },
    },
    closing: {
      after: { closeTimeout: { target: 'closed', actions: ['terminateSocket', 'announceDisconnect'] } },
      on: {
        'socket.closed': { target: 'closed', actions: 'announceDisconnect' },
      },
    },
    /** Like closing, but the end is expected: nobody is told. */
    shuttingDown: {
      after: { closeTimeout: { target: 'closed', actions: 'terminateSocket' } },
      on: { 'socket.closed': 'closed' },
    },
    closed: { type: 'final' },
  },
});

export type WsClientMachine = typeof wsClientMachine;

/** The public summary in every record of a client (no per-frame counters: a frame is not a transition). */
export function summarizeWsClient(context: WsClientContext) {
  return {
    client_id: context.clientId,
    remote: context.remote,
    topics: context.topics,
    connected_at: new Date(context.connectedAt).toISOString(),
    close_code: context.closeCode,
    close_reason: context.closeReason,
  };
}
