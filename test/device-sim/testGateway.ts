import net from 'node:net';

/**
 * A real TCP server speaking the gateway side of the device wire protocol, small enough to
 * trust: it records every line a device sends (raw, no size limit) and lets a test send
 * anything back. It deliberately does not reuse the simulator's own line splitter or schemas.
 */

export type JsonObject = Record<string, unknown>;

export interface GatewayConnection {
  readonly socket: net.Socket;
  /** From the device's `hello`, once it arrived. */
  name: string | undefined;
  readonly lines: string[];
  /** The socket emitted `end`: the device sent FIN. */
  ended: boolean;
  error: NodeJS.ErrnoException | undefined;
  isClosed: boolean;
  readonly closed: Promise<void>;
  send(message: unknown): void;
  sendRaw(text: string): void;
  /** Sends a command and returns its id. */
  command(fields?: { instance?: number; command?: string; node_id?: string; params?: JsonObject; id?: string }): string;
  /** Resolves with the first line (from the start of the connection) that satisfies `match`. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with the first JSON object line that satisfies `match`. */
  waitFor(match: (message: JsonObject) => boolean, timeoutMs?: number): Promise<JsonObject>;
  /** Every line received so far that parses as a JSON object. */
  messages(): JsonObject[];
}

export interface TestGateway {
  readonly port: number;
  readonly connections: GatewayConnection[];
  /** Handshakes with a hello received and the welcome not yet sent, at most (see welcomeDelayMs). */
  readonly maxPendingWelcomes: number;
  /** Resolves with the nth (1-based) connection whose hello named `name`. */
  waitForDevice(name: string, nth?: number, timeoutMs?: number): Promise<GatewayConnection>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  /** Answer hello with welcome (default true). */
  autoWelcome?: boolean;
  /** Delay before the welcome (default 0). */
  welcomeDelayMs?: number;
  /** Close the socket as soon as a device connects. */
  closeOnConnect?: boolean;
}

export function tryParseObject(line: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}

let commandSeq = 0;

export async function startTestGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const connections: GatewayConnection[] = [];
  const sockets = new Set<net.Socket>();
  const deviceWaiters = new Set<() => void>();
  let pendingWelcomes = 0;
  let maxPendingWelcomes = 0;
  const timers = new Set<NodeJS.Timeout>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (opts.closeOnConnect) {
      socket.on('error', () => {});
      socket.end();
      return;
    }
    const conn = createConnection(socket, (c) => {
      deviceWaiters.forEach((notify) => notify());
      if (opts.autoWelcome === false) return;
      const welcome = () => c.send({ type: 'welcome', id: `${socket.remoteAddress}:${c.name}` });
      const delay = opts.welcomeDelayMs ?? 0;
      if (delay === 0) return welcome();
      pendingWelcomes++;
      maxPendingWelcomes = Math.max(maxPendingWelcomes, pendingWelcomes);
      const timer = setTimeout(() => {
        timers.delete(timer);
        pendingWelcomes--;
        welcome();
      }, delay);
      timers.add(timer);
    });
    connections.push(conn);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('test gateway: no TCP address');

  return {
    port: address.port,
    connections,
    get maxPendingWelcomes() {
      return maxPendingWelcomes;
    },
    waitForDevice(name, nth = 1, timeoutMs = 3_000) {
      const find = () => connections.filter((c) => c.name === name)[nth - 1];
      const found = find();
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const notify = () => {
          const conn = find();
          if (!conn) return;
          clearTimeout(timer);
          deviceWaiters.delete(notify);
          resolve(conn);
        };
        const timer = setTimeout(() => {
          deviceWaiters.delete(notify);
          reject(new Error(`test gateway: no hello #${nth} from ${name} within ${timeoutMs} ms`));
        }, timeoutMs);
        deviceWaiters.add(notify);
      });
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function createConnection(socket: net.Socket, onHello: (conn: GatewayConnection) => void): GatewayConnection {
  const lineListeners = new Set<() => void>();
  let buffer = '';
  let resolveClosed!: () => void;

  const conn: GatewayConnection = {
    socket,
    name: undefined,
    lines: [],
    ended: false,
    error: undefined,
    isClosed: false,
    closed: new Promise<void>((resolve) => (resolveClosed = resolve)),
    send(message) {
      if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
    },
    sendRaw(text) {
      if (!socket.destroyed) socket.write(text);
    },
    command(fields = {}) {
      const id = fields.id ?? `cmd-${++commandSeq}`;
      conn.send({
        type: 'command',
        id,
        node_id: fields.node_id ?? `node-${id}`,
        instance: fields.instance ?? 1,
        command: fields.command ?? 'set',
        params: fields.params ?? {},
      });
      return id;
    },
    waitForLine(match, timeoutMs = 2_000) {
      const found = conn.lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = conn.lines.find(match);
          if (line === undefined) return;
          clearTimeout(timer);
          lineListeners.delete(check);
          resolve(line);
        };
        const timer = setTimeout(() => {
          lineListeners.delete(check);
          const seen = conn.lines.map((l) => (l.length > 120 ? `${l.slice(0, 120)}… (${l.length} chars)` : l));
          reject(new Error(`test gateway: no matching line within ${timeoutMs} ms; lines: ${JSON.stringify(seen)}`));
        }, timeoutMs);
        lineListeners.add(check);
      });
    },
    async waitFor(match, timeoutMs) {
      const line = await conn.waitForLine((l) => {
        const m = tryParseObject(l);
        return m !== undefined && match(m);
      }, timeoutMs);
      return tryParseObject(line) as JsonObject;
    },
    messages() {
      return conn.lines.map(tryParseObject).filter((m): m is JsonObject => m !== undefined);
    },
  };

  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      conn.lines.push(line);
      const message = tryParseObject(line);
      if (conn.name === undefined && message?.type === 'hello' && typeof message.device === 'string') {
        conn.name = message.device;
        onHello(conn);
      }
      lineListeners.forEach((check) => check());
    }
  });
  socket.on('end', () => {
    conn.ended = true;
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    conn.error = err;
  });
  socket.on('close', () => {
    conn.isClosed = true;
    resolveClosed();
  });
  return conn;
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
