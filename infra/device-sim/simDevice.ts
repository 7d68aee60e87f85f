import net from 'node:net';
import { componentLogger, type Logger } from '../../services/log/logger.ts';
import { behaviorForInstance, type SimBehavior, type SimBehaviorName } from './behavior.ts';
import { LineSplitter } from './lineSplitter.ts';
import {
  MAX_LINE_BYTES,
  decodeGatewayLine,
  encodeLine,
  type CommandMessage,
  type DeviceMessage,
} from './messages.ts';

export type { SimBehavior, SimBehaviorName } from './behavior.ts';

export interface SimDeviceOptions {
  host: string;
  port: number;
  /** Sent in `hello`; the gateway names the device `<remote IPv4>:<name>`. */
  name: string;
  /** Node instances the device announces (default 1). */
  nodes?: number;
  /** How commands are answered (default `'normal'`). */
  behavior?: SimBehavior;
  /** Delay between ack and result for `normal` and `fail` (default 20 ms). */
  resultDelayMs?: number;
  /** After `welcome`, send one `status` per instance (`idle`, `{}`). Default false. */
  sendStatusOnConnect?: boolean;
  /** Reject when no `welcome` arrived this long after the connect started (default 5000 ms). */
  welcomeTimeoutMs?: number;
  /** The `error` of `ok:false` results (default `simulated failure`). */
  failError?: string;
  /** Aborting before `welcome` destroys the socket and rejects with `ABORTED`. */
  signal?: AbortSignal;
}

/** A command as the device received it. */
export interface ReceivedCommand extends CommandMessage {
  receivedAt: number;
  /** The behavior the device applied to it. */
  behavior: SimBehaviorName;
}

export type CommandListener = (command: ReceivedCommand, device: SimDevice) => void;

/** Why the socket ended: this side's `close()` (FIN) or `crash()` (RST), the gateway, or an error. */
export type SimDeviceCloseReason = 'closed' | 'crashed' | 'remote-closed' | 'error';

export interface SimDeviceClosed {
  hadError: boolean;
  reason: SimDeviceCloseReason;
  /** The socket error, if one was seen (e.g. ECONNRESET when the gateway reset us). */
  error?: Error;
}

export interface SimDevice {
  /** The deviceId from `welcome`. */
  readonly id: string;
  readonly name: string;
  readonly nodes: number;
  /** Every command received, in arrival order. */
  readonly commands: readonly ReceivedCommand[];
  /** `ping` messages received (and, unless silent, answered). */
  readonly pings: number;
  readonly behavior: SimBehavior;
  readonly silent: boolean;
  /** True until the socket closes. */
  readonly isOpen: boolean;
  /** Resolves (never rejects) when the socket closes, for any reason. */
  readonly closed: Promise<SimDeviceClosed>;

  /** Called for each command before the device answers it. Returns an unsubscribe function. */
  onCommand(listener: CommandListener): () => void;
  /** Resolves with the first `n` commands once that many arrived; rejects on timeout or close. */
  waitForCommands(n: number, timeoutMs?: number): Promise<ReceivedCommand[]>;
  /** Applies to commands received from now on; results already scheduled are still sent. */
  setBehavior(behavior: SimBehavior): void;
  sendStatus(instance: number, status: string, config?: Record<string, unknown>): boolean;
  /** Abortive close: TCP RST. */
  crash(): void;
  /** Clean close (FIN); destroys the socket if it is not closed within `timeoutMs` (default 2000). */
  close(timeoutMs?: number): Promise<SimDeviceClosed>;
  /**
   * Simulates a pulled cable: from now on nothing is answered (no pong, ack or result; scheduled
   * results are cancelled) and every received byte is discarded unparsed. The socket stays open;
   * it is still drained, so `closed` resolves when the gateway gives up on the device. Explicit
   * `send*` calls still write: the test asked for them.
   */
  goSilent(): void;
  /** Writes text or bytes exactly as given (no newline added). False if the socket is closed. */
  sendRaw(data: string | Uint8Array): boolean;
  /** Writes one line that is not JSON. */
  sendGarbage(): boolean;
  /** Writes one valid JSON line of a message type the protocol does not know. */
  sendUnknown(): boolean;
  /** Writes one line of exactly `bytes` bytes (newline excluded), default 70,000 (> 64 KiB). */
  sendOversizedLine(bytes?: number): boolean;
}

export type SimDeviceErrorCode =
  | 'INVALID_OPTIONS'
  | 'CONNECT_FAILED'
  | 'FLEET_CONNECT_FAILED'
  | 'CLOSED_BEFORE_WELCOME'
  | 'WELCOME_TIMEOUT'
  | 'WAIT_TIMEOUT'
  | 'DEVICE_CLOSED'
  | 'ABORTED';

export class SimDeviceError extends Error {
  override readonly name = 'SimDeviceError';
  constructor(
    readonly code: SimDeviceErrorCode,
    readonly device: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`device-sim ${device}: ${message}`, options);
  }
}

export const DEFAULT_RESULT_DELAY_MS = 20;
export const DEFAULT_WELCOME_TIMEOUT_MS = 5_000;
export const DEFAULT_OVERSIZED_LINE_BYTES = 70_000;
const GARBAGE_LINE = 'this is not json {{{\n';

let moduleLogger: Logger | undefined;
/** Created lazily so tests can set LIFELINE_LOG_LEVEL before the first device connects. */
function log(): Logger {
  moduleLogger ??= componentLogger('device-sim');
  return moduleLogger;
}

interface CommandWaiter {
  n: number;
  resolve(commands: ReceivedCommand[]): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Connects one simulated device and resolves once the gateway's `welcome` arrived. Rejects with
 * a `SimDeviceError` when the connection fails, closes before `welcome`, or `welcome` is late.
 */
export async function connectSimDevice(opts: SimDeviceOptions): Promise<SimDevice> {
  validateOptions(opts);
  if (opts.signal?.aborted) throw new SimDeviceError('ABORTED', opts.name, 'connect aborted', { cause: opts.signal.reason });
  const device = new SimDeviceConnection(opts);
  await device.welcomed;
  return device;
}

function validateOptions(opts: SimDeviceOptions): void {
  const problems: string[] = [];
  if (!opts.name) problems.push('name must not be empty');
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65_535) problems.push(`port must be 1..65535 (got ${opts.port})`);
  if (opts.nodes !== undefined && (!Number.isInteger(opts.nodes) || opts.nodes < 1)) problems.push(`nodes must be an integer ≥ 1 (got ${opts.nodes})`);
  if (opts.resultDelayMs !== undefined && !(opts.resultDelayMs >= 0)) problems.push(`resultDelayMs must be ≥ 0 (got ${opts.resultDelayMs})`);
  if (opts.welcomeTimeoutMs !== undefined && !(opts.welcomeTimeoutMs > 0)) problems.push(`welcomeTimeoutMs must be > 0 (got ${opts.welcomeTimeoutMs})`);
  if (problems.length > 0) throw new SimDeviceError('INVALID_OPTIONS', opts.name || '?', problems.join('; '));
}

/**
 * One device = one socket. Idle, it holds no timers and no buffers: timers exist only while a
 * result is scheduled, a `waitForCommands` is pending, or `close()` waits for the FIN exchange.
 */
class SimDeviceConnection implements SimDevice {
  readonly name: string;
  readonly nodes: number;
  readonly closed: Promise<SimDeviceClosed>;
  /** Settles once `welcome` arrived (or the connection failed first). */
  readonly welcomed: Promise<void>;

  #id = '';
  #behavior: SimBehavior;
  readonly #resultDelayMs: number;
  readonly #failError: string;
  readonly #sendStatusOnConnect: boolean;
  readonly #socket: net.Socket;
  readonly #splitter: LineSplitter;
  readonly #commands: ReceivedCommand[] = [];
  #pings = 0;
  #silent = false;
  #open = true;
  #connected = false;
  #remoteEnded = false;
  #localReason: 'closed' | 'crashed' | undefined;
  #lastError: Error | undefined;
  #listeners: Set<CommandListener> | undefined;
  #resultTimers: Set<NodeJS.Timeout> | undefined;
  #waiters: Set<CommandWaiter> | undefined;
  #welcomeWaiter: { resolve(): void; reject(err: Error): void; cleanup(): void } | undefined;
  #resolveClosed!: (closed: SimDeviceClosed) => void;

  constructor(opts: SimDeviceOptions) {
    this.name = opts.name;
    this.nodes = opts.nodes ?? 1;
    this.#behavior = opts.behavior ?? 'normal';
    this.#resultDelayMs = opts.resultDelayMs ?? DEFAULT_RESULT_DELAY_MS;
    this.#failError = opts.failError ?? 'simulated failure';
    this.#sendStatusOnConnect = opts.sendStatusOnConnect ?? false;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#splitter = new LineSplitter({
      maxLineBytes: MAX_LINE_BYTES,
      onLine: (line) => this.#handleLine(line),
      onOversized: (bytes) => log().debug({ device: this.name, bytes }, 'dropped oversized line from gateway'),
    });

    this.welcomed = new Promise<void>((resolve, reject) => {
      const timeoutMs = opts.welcomeTimeoutMs ?? DEFAULT_WELCOME_TIMEOUT_MS;
      const timer = setTimeout(() => {
        this.#failConnect(new SimDeviceError('WELCOME_TIMEOUT', this.name, `no welcome from ${opts.host}:${opts.port} within ${timeoutMs} ms`));
        this.#socket.destroy();
      }, timeoutMs);
      const signal = opts.signal;
      const onAbort = () => {
        this.#failConnect(new SimDeviceError('ABORTED', this.name, 'connect aborted', { cause: signal?.reason }));
        this.#socket.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.#welcomeWaiter = { resolve, reject, cleanup };
    });

    const socket = net.connect({ host: opts.host, port: opts.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.once('connect', () => {
      this.#connected = true;
      this.#write(encodeLine({ type: 'hello', device: this.name, nodes: this.nodes }));
    });
    socket.on('data', (chunk: Buffer) => {
      if (!this.#silent) this.#splitter.push(chunk);
    });
    socket.on('end', () => {
      this.#remoteEnded = true;
    });
    socket.on('error', (err) => {
      this.#lastError = err;
      log().debug({ device: this.name, err }, 'socket error');
    });
    socket.on('close', (hadError) => this.#handleClose(hadError));
  }

  get id(): string {
    return this.#id;
  }
  get commands(): readonly ReceivedCommand[] {
    return this.#commands;
  }
  get pings(): number {
    return this.#pings;
  }
  get behavior(): SimBehavior {
    return this.#behavior;
  }
  get silent(): boolean {
    return this.#silent;
  }
  get isOpen(): boolean {
    return this.#open;
  }

  onCommand(listener: CommandListener): () => void {
    this.#listeners ??= new Set();
    this.#listeners.add(listener);
    return () => {
      this.#listeners?.delete(listener);
    };
  }

  waitForCommands(n: number, timeoutMs = 5_000): Promise<ReceivedCommand[]> {
    if (this.#commands.length >= n) return Promise.resolve(this.#commands.slice(0, n));
    if (!this.#open) {
      return Promise.reject(new SimDeviceError('DEVICE_CLOSED', this.name, `closed after ${this.#commands.length} of ${n} commands`));
    }
    return new Promise((resolve, reject) => {
      const waiter: CommandWaiter = {
        n,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters?.delete(waiter);
          reject(new SimDeviceError('WAIT_TIMEOUT', this.name, `received ${this.#commands.length} of ${n} commands within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#waiters ??= new Set();
      this.#waiters.add(waiter);
    });
  }

  setBehavior(behavior: SimBehavior): void {
    this.#behavior = behavior;
  }

  sendStatus(instance: number, status: string, config: Record<string, unknown> = {}): boolean {
    return this.#write(encodeLine({ type: 'status', instance, status, config }));
  }

  crash(): void {
    if (this.#socket.destroyed) return;
    this.#localReason ??= 'crashed';
    this.#cancelResults();
    this.#socket.resetAndDestroy();
  }

  close(timeoutMs = 2_000): Promise<SimDeviceClosed> {
    if (this.#open && !this.#socket.destroyed) {
      this.#localReason ??= 'closed';
      this.#cancelResults();
      this.#socket.end();
      const timer = setTimeout(() => this.#socket.destroy(), timeoutMs);
      timer.unref();
      void this.closed.then(() => clearTimeout(timer));
    }
    return this.closed;
  }

  goSilent(): void {
    this.#silent = true;
    this.#cancelResults();
    this.#splitter.reset();
  }

  sendRaw(data: string | Uint8Array): boolean {
    return this.#write(data);
  }

  sendGarbage(): boolean {
    return this.#write(GARBAGE_LINE);
  }

  sendUnknown(): boolean {
    return this.#write(`${JSON.stringify({ type: 'surprise', device: this.name, at: Date.now() })}\n`);
  }

  sendOversizedLine(bytes = DEFAULT_OVERSIZED_LINE_BYTES): boolean {
    return this.#write(`${oversizedLine(bytes)}\n`);
  }

  // ---- incoming ---------------------------------------------------------------------------

  #handleLine(line: string): void {
    const decoded = decodeGatewayLine(line);
    if (!decoded.ok) {
      log().debug({ device: this.name, reason: decoded.reason, detail: decoded.detail, line: line.slice(0, 200) }, 'ignored line from gateway');
      return;
    }
    const message = decoded.message;
    switch (message.type) {
      case 'welcome':
        this.#handleWelcome(message.id);
        return;
      case 'ping':
        this.#pings++;
        this.#send({ type: 'pong' });
        return;
      case 'command':
        this.#handleCommand(message);
        return;
    }
  }

  #handleWelcome(id: string): void {
    const waiter = this.#welcomeWaiter;
    if (!waiter) {
      log().debug({ device: this.name, id }, 'ignored repeated welcome');
      return;
    }
    this.#welcomeWaiter = undefined;
    waiter.cleanup();
    this.#id = id;
    log().debug({ device: this.name, id }, 'welcomed');
    if (this.#sendStatusOnConnect) {
      for (let instance = 1; instance <= this.nodes; instance++) this.sendStatus(instance, 'idle', {});
    }
    waiter.resolve();
  }

  #handleCommand(message: CommandMessage): void {
    const behavior = behaviorForInstance(this.#behavior, message.instance);
    const command: ReceivedCommand = { ...message, receivedAt: Date.now(), behavior };
    this.#commands.push(command);
    log().debug({ device: this.name, commandId: command.id, instance: command.instance, command: command.command, behavior }, 'command received');
    for (const listener of this.#listeners ?? []) {
      try {
        listener(command, this);
      } catch (err) {
        log().warn({ device: this.name, err }, 'command listener threw');
      }
    }
    this.#notifyWaiters();
    this.#answer(command);
  }

  #answer(command: ReceivedCommand): void {
    const { id } = command;
    switch (command.behavior) {
      case 'normal':
        this.#send({ type: 'ack', id });
        if (command.instance > this.nodes) {
          this.#scheduleResult({ type: 'result', id, ok: false, error: `no node instance ${command.instance} (device has ${this.nodes})` });
        } else {
          this.#scheduleResult({ type: 'result', id, ok: true });
        }
        return;
      case 'fail':
        this.#send({ type: 'ack', id });
        this.#scheduleResult({ type: 'result', id, ok: false, error: this.#failError });
        return;
      case 'hang':
        return;
      case 'no-result':
        this.#send({ type: 'ack', id });
        return;
      case 'crash-on-command':
        this.crash();
        return;
      case 'garbage-on-command':
        this.sendGarbage();
        return;
      case 'unknown-on-command':
        this.sendUnknown();
        return;
      case 'oversized-on-command':
        this.sendOversizedLine();
        return;
    }
  }

  #scheduleResult(result: DeviceMessage): void {
    const timers = (this.#resultTimers ??= new Set());
    const timer = setTimeout(() => {
      timers.delete(timer);
      this.#send(result);
    }, this.#resultDelayMs);
    timers.add(timer);
  }

  #cancelResults(): void {
    if (!this.#resultTimers) return;
    for (const timer of this.#resultTimers) clearTimeout(timer);
    this.#resultTimers = undefined;
  }

  #notifyWaiters(): void {
    if (!this.#waiters) return;
    for (const waiter of this.#waiters) {
      if (this.#commands.length < waiter.n) continue;
      clearTimeout(waiter.timer);
      this.#waiters.delete(waiter);
      waiter.resolve(this.#commands.slice(0, waiter.n));
    }
  }

  // ---- outgoing and teardown ----------------------------------------------------------------

  /** Automatic protocol answers: suppressed while silent. */
  #send(message: DeviceMessage): boolean {
    if (this.#silent) return false;
    return this.#write(encodeLine(message));
  }

  #write(data: string | Uint8Array): boolean {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return false;
    socket.write(data);
    return true;
  }

  #failConnect(err: Error): void {
    const waiter = this.#welcomeWaiter;
    if (!waiter) return;
    this.#welcomeWaiter = undefined;
    waiter.cleanup();
    waiter.reject(err);
  }

  #handleClose(hadError: boolean): void {
    this.#open = false;
    this.#cancelResults();
    this.#splitter.reset();
    const reason: SimDeviceCloseReason = this.#localReason ?? (this.#lastError ? 'error' : this.#remoteEnded ? 'remote-closed' : 'error');
    const closed: SimDeviceClosed = { hadError, reason, ...(this.#lastError ? { error: this.#lastError } : {}) };
    log().debug({ device: this.name, id: this.#id, hadError, reason, code: errorCode(this.#lastError) }, 'socket closed');

    if (this.#welcomeWaiter) {
      this.#failConnect(
        this.#connected
          ? new SimDeviceError('CLOSED_BEFORE_WELCOME', this.name, `connection closed before welcome${describeError(this.#lastError)}`, { cause: this.#lastError })
          : new SimDeviceError('CONNECT_FAILED', this.name, `cannot connect${describeError(this.#lastError)}`, { cause: this.#lastError }),
      );
    }
    if (this.#waiters) {
      for (const waiter of this.#waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new SimDeviceError('DEVICE_CLOSED', this.name, `closed after ${this.#commands.length} of ${waiter.n} commands`));
      }
      this.#waiters = undefined;
    }
    this.#resolveClosed(closed);
  }
}

/** A line of exactly `bytes` bytes: valid JSON when there is room for it, so only its size is wrong. */
export function oversizedLine(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1) throw new RangeError(`oversized line needs bytes ≥ 1 (got ${bytes})`);
  const head = '{"type":"status","instance":1,"status":"';
  const tail = '","config":{}}';
  const padding = bytes - head.length - tail.length;
  return padding < 0 ? 'x'.repeat(bytes) : head + 'x'.repeat(padding) + tail;
}

function errorCode(err: Error | undefined): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function describeError(err: Error | undefined): string {
  if (!err) return '';
  const code = errorCode(err);
  return code ? ` (${code}: ${err.message})` : ` (${err.message})`;
}
