import { connect, type Socket } from 'node:net';
import { fromCallback } from 'xstate';
import type { RadioCommand, RadioEvent, RadioInput, RadioSocketErrorCode } from '../../machines/esp32Link.ts';
import type { Logger } from '../log/logger.ts';
import { createDeframer } from './framing.ts';
import type { FromRadio } from './meshtasticProtobufs.ts';
import { decodeFromRadio, encodeDisconnect, encodeRadioCommand, radioFrameOf } from './radioProtocol.ts';

export interface RadioConnectionOptions {
  logger: Logger;
  /** TCP keepalive: first probe after this much idle time. */
  keepAliveMs: number;
}

export interface RadioConnectionStats {
  frames: number;
  garbageBytes: number;
  oversizedHeaders: number;
  rejectedFrames: number;
}

function socketErrorCode(err: NodeJS.ErrnoException, connected: boolean): RadioSocketErrorCode {
  if (!connected) return err.code === 'ECONNREFUSED' ? 'CONNECT_REFUSED' : 'CONNECT_FAILED';
  return err.code === 'ECONNRESET' ? 'SOCKET_RESET' : 'SOCKET_CLOSED';
}

/**
 * The `radioConnection` actor of the esp32Link machine: one TCP socket to the radio for
 * one connection attempt. It reports `radio.connected`, every decoded FromRadio as
 * `radio.frame`, and the socket's end once as `radio.closed`; it writes what the machine
 * sends it (want_config, heartbeat). Stopping the actor closes the socket fully
 * (`ToRadio.disconnect`, then destroy), so a link never keeps two sockets to one radio.
 */
export function createRadioConnection(options: RadioConnectionOptions, stats?: RadioConnectionStats) {
  return fromCallback<RadioCommand, RadioInput>(({ input, sendBack, receive }) => {
    const log = options.logger.child({ address: `${input.host}:${input.port}` });
    const send = (event: RadioEvent): void => sendBack(event);
    const decoded = new WeakMap<Uint8Array, FromRadio>();
    const deframer = createDeframer({
      accept: (payload) => {
        const message = decodeFromRadio(payload);
        if (message) decoded.set(payload, message);
        return message !== null;
      },
    });
    let connected = false;
    let ended = false;
    const socket: Socket = connect({ host: input.host, port: input.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: options.keepAliveMs });

    const end = (code: RadioSocketErrorCode, message: string): void => {
      if (ended) return;
      ended = true;
      send({ type: 'radio.closed', code, message });
    };
    socket.on('connect', () => {
      connected = true;
      socket.setNoDelay(true);
      socket.setKeepAlive(true, options.keepAliveMs);
      send({ type: 'radio.connected' });
    });
    socket.on('data', (chunk: Buffer) => {
      for (const event of deframer.push(chunk)) {
        switch (event.type) {
          case 'frame': {
            const message = decoded.get(event.payload);
            if (!message) break;
            if (stats) stats.frames += 1;
            send({ type: 'radio.frame', frame: radioFrameOf(message) });
            break;
          }
          case 'garbage':
            if (stats) stats.garbageBytes += event.bytes.length;
            log.debug({ bytes: event.bytes.length, text: printable(event.bytes) }, 'bytes between frames (radio log text or noise)');
            break;
          case 'oversized':
            if (stats) stats.oversizedHeaders += 1;
            log.debug({ length: event.length }, 'frame header with a length over 512: resyncing');
            break;
          case 'rejected':
            if (stats) stats.rejectedFrames += 1;
            log.debug({ length: event.length }, 'a frame that is not a FromRadio: resyncing');
            break;
        }
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => end(socketErrorCode(err, connected), `${err.code ?? 'socket error'}: ${err.message}`));
    socket.on('close', () =>
      end(connected ? 'SOCKET_CLOSED' : 'CONNECT_FAILED', connected ? 'the radio closed the connection' : 'the connection closed before it was established'),
    );
    receive((command) => {
      if (!connected || socket.destroyed || !socket.writable) return;
      socket.write(encodeRadioCommand(command));
    });

    return () => {
      ended = true;
      if (socket.destroyed) return;
      if (connected && socket.writable) socket.write(encodeDisconnect());
      socket.destroy();
    };
  });
}

function printable(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 200)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
}
