import type { Socket } from 'node:net';
import type { SnapshotFrom } from 'xstate';
import {
  deviceSocketMachine,
  summarizeDeviceSocket,
  type DeviceSocketEvent,
  type DeviceTiming,
  type PendingCommand,
  type SocketErrorCode,
} from '../../machines/deviceSocket.ts';
import { hostActor, type HostedActor, type RecordSink } from '../runtime/host.ts';
import type { Logger } from '../log/logger.ts';
import { createLineSplitter } from './lineSplitter.ts';
import { parseDeviceLine } from './deviceMessages.ts';
import type { Hello } from './deviceMessages.ts';

export type DeviceActor = HostedActor<typeof deviceSocketMachine>;

export interface DeviceConnectionOptions {
  socket: Socket;
  hello: Hello;
  deviceId: string;
  remote: string;
  gateway: string;
  timing: Partial<DeviceTiming>;
  sink: RecordSink;
  logger: Logger;
  /** Lines that arrived in the same packet as the hello. */
  initialLines?: string[];
  /** Called once when the actor reached `failed` or `closed`. */
  onEnd: (actor: DeviceActor) => void;
  inspect?: Parameters<typeof hostActor>[0]['inspect'];
}

const CLOSE_GRACE_MS = 1_000;

function socketErrorCode(err: NodeJS.ErrnoException): SocketErrorCode {
  if (err.code === 'ECONNRESET') return 'SOCKET_RESET';
  if (err.code === 'EPIPE') return 'BROKEN_PIPE';
  return 'SOCKET_CLOSED';
}

/** What the machine's I/O actions do for one connection. */
interface SocketIo {
  write(message: unknown): void;
  close(reason: string): void;
}

/** Each device actor's socket, found by the actions through the actor (`self`). */
const socketIoOf = new WeakMap<object, SocketIo>();

/**
 * Provided once for all connections: `provide` copies the machine, and one copy per
 * connection cost about 15 KB of heap per device (bench: gateway memory). The actions
 * reach their own connection's socket through the acting actor.
 */
const gatewayDeviceMachine = deviceSocketMachine.provide({
  actions: {
    sendCommand: ({ self }, { command }: { command: PendingCommand }) =>
      socketIoOf.get(self)?.write({
        type: 'command',
        id: command.command_id,
        node_id: command.node_id,
        instance: command.instance,
        command: command.command,
        params: command.params,
      }),
    sendPing: ({ self }) => socketIoOf.get(self)?.write({ type: 'ping' }),
    closeSocket: ({ self }, { reason }: { reason: string }) => socketIoOf.get(self)?.close(reason),
  },
});

/** Wires one device's socket to its deviceSocket actor; the socket lives and dies with it. */
export function startDeviceConnection(options: DeviceConnectionOptions): DeviceActor {
  const { socket, logger } = options;
  let ended = false;
  const io: SocketIo = {
    write: (message) => {
      if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`);
    },
    close: (reason) => {
      if (socket.destroyed) return;
      socket.end(`${JSON.stringify({ type: 'error', code: reason })}\n`);
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    },
  };
  const hosted: DeviceActor = hostActor({
    machine: gatewayDeviceMachine,
    kind: 'device',
    id: options.deviceId,
    input: {
      deviceId: options.deviceId,
      name: options.hello.device,
      nodes: options.hello.nodes,
      remote: options.remote,
      gateway: options.gateway,
      timing: options.timing,
    },
    sink: options.sink,
    summarize: (s: SnapshotFrom<typeof gatewayDeviceMachine>) => summarizeDeviceSocket(s.context),
    errorOf: (s: SnapshotFrom<typeof gatewayDeviceMachine>) => s.context.error ?? undefined,
    logger,
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  // starting does no I/O (entry arms timers only): the actions find the socket from here on
  socketIoOf.set(hosted.actor, io);
  const send = (event: DeviceSocketEvent): void => {
    if (!ended) hosted.send(event);
  };
  hosted.actor.subscribe((snapshot) => {
    if (snapshot.status === 'done' && !ended) {
      ended = true;
      options.onEnd(hosted);
    }
  });

  const onLine = (line: string): void => {
    const parsed = parseDeviceLine(line);
    if (!parsed.ok) return send({ type: 'protocol.invalid', code: parsed.code, message: parsed.message });
    const m = parsed.message;
    switch (m.type) {
      case 'ack':
        return send({ type: 'device.ack', id: m.id });
      case 'result':
        return send(m.error === undefined ? { type: 'device.result', id: m.id, ok: m.ok } : { type: 'device.result', id: m.id, ok: m.ok, error: m.error });
      case 'status':
        return send({ type: 'device.status', instance: m.instance, status: m.status, config: m.config });
      case 'pong':
        return send({ type: 'device.pong' });
      case 'hello':
        logger.warn({ deviceId: options.deviceId }, 'repeated hello ignored');
        return send({ type: 'device.pong' });
    }
  };
  const split = createLineSplitter({
    onLine,
    onOverflow: (bytes) => send({ type: 'protocol.invalid', code: 'LINE_TOO_LONG', message: `line longer than 64 KiB (${bytes}+ bytes)` }),
  });
  socket.on('data', split);
  socket.on('error', (err: NodeJS.ErrnoException) =>
    send({ type: 'socket.error', code: socketErrorCode(err), message: `${err.code ?? 'socket error'}: ${err.message}` }),
  );
  socket.on('close', () => send({ type: 'socket.error', code: 'SOCKET_CLOSED', message: 'the device closed the connection' }));
  for (const line of options.initialLines ?? []) onLine(line);
  return hosted;
}
