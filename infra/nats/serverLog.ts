import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from '../../services/log/logger.ts';

const KEEP_LINES = 40;
const SERVER_ID = /\bID:\s+(N[A-Z0-9]{55})\b/;

/**
 * Where one nats-server process's output goes: appended to the log file, the last lines
 * kept for error messages, errors forwarded to pino, and the server ID noted (the
 * readiness check uses it to be sure /healthz answered from this very process).
 */
export class ServerLogSink {
  readonly #file: WriteStream;
  readonly #lines: string[] = [];
  readonly #log: Logger;
  #serverId: string | undefined;
  #open = 0;

  constructor(path: string, log: Logger, banner: string) {
    this.#file = createWriteStream(path, { flags: 'a', mode: 0o600 });
    this.#file.on('error', (err) => log.error({ err, path }, 'cannot write the nats-server log'));
    this.#file.write(`--- ${new Date().toISOString()} ${banner}\n`);
    this.#log = log;
  }

  /** Reads a stream line by line; the file is closed once every attached stream ended. */
  attach(stream: Readable): void {
    this.#open += 1;
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => this.#line(line));
    lines.on('close', () => {
      this.#open -= 1;
      if (this.#open === 0) this.#file.end();
    });
  }

  get serverId(): string | undefined {
    return this.#serverId;
  }

  /** A line of our own (e.g. why the binary could not run), kept like the server's. */
  note(line: string): void {
    this.#line(line);
  }

  lastLines(): string[] {
    return [...this.#lines];
  }

  #line(line: string): void {
    this.#file.write(`${line}\n`);
    this.#lines.push(line);
    if (this.#lines.length > KEEP_LINES) this.#lines.shift();
    this.#serverId ??= SERVER_ID.exec(line)?.[1];
    if (/\[(ERR|FTL)\]/.test(line) || line.startsWith('nats-server:')) this.#log.error({ line }, 'nats-server');
    else this.#log.debug({ line }, 'nats-server');
  }
}
