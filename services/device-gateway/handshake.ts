import type { Socket } from 'node:net';
import { createLineSplitter } from './lineSplitter.ts';
import { parseDeviceLine, type Hello } from './deviceMessages.ts';

export type HandshakeResult =
  | { ok: true; hello: Hello; /** lines that arrived right behind the hello */ rest: string[] }
  | { ok: false; code: 'HELLO_TIMEOUT' | 'INVALID_JSON' | 'UNKNOWN_MESSAGE' | 'LINE_TOO_LONG' | 'SOCKET_CLOSED'; message: string };

/**
 * Waits for the device's first line, which must be a `hello`, within `timeoutMs`.
 * Before it the connection has no identity, so it is not an actor yet.
 */
export function awaitHello(socket: Socket, timeoutMs: number): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    let hello: Hello | undefined;
    const rest: string[] = [];
    let done = false;
    const finish = (result: HandshakeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(result);
    };
    const split = createLineSplitter({
      onLine: (line) => {
        if (hello) {
          rest.push(line);
          return;
        }
        const parsed = parseDeviceLine(line);
        if (!parsed.ok) return finish(parsed);
        if (parsed.message.type !== 'hello') {
          return finish({ ok: false, code: 'UNKNOWN_MESSAGE', message: `expected hello first, got '${parsed.message.type}'` });
        }
        hello = parsed.message;
      },
      onOverflow: (bytes) => finish({ ok: false, code: 'LINE_TOO_LONG', message: `line longer than 64 KiB (${bytes} bytes) before hello` }),
    });
    const onData = (chunk: Buffer): void => {
      split(chunk);
      if (hello) finish({ ok: true, hello, rest });
    };
    const onClose = (): void => finish({ ok: false, code: 'SOCKET_CLOSED', message: 'closed before hello' });
    const timer = setTimeout(
      () => finish({ ok: false, code: 'HELLO_TIMEOUT', message: `no hello within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}
