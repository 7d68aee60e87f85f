import { create } from '@bufbuild/protobuf';
import { createServer, type Server, type Socket } from 'node:net';
import { componentLogger, type Logger } from '../../services/log/logger.ts';
import { createDeframer, encodeFrame, FRAME_START1, FRAME_START2 } from '../../services/esp32-link/framing.ts';
import { Mesh } from '../../services/esp32-link/meshtasticProtobufs.ts';
import { decodeToRadio } from '../../services/esp32-link/radioProtocol.ts';
import { seededRandom } from '../device-sim/random.ts';
import { configDump, frameFromRadio, type FromRadioVariant } from './configDump.ts';
import { generateNodeDb, type EmulatedNode } from './nodeDb.ts';

/**
 * The scripted behaviours of the emulated radio, applied to each handshake:
 *   normal          the firmware's config dump, then quiet (answers heartbeats)
 *   stall           stops before config complete (after `stallAfterNodes` node infos);
 *                   still answers heartbeats, so only a handshake timeout can tell
 *   silent          completes the handshake, then (after `silentAfterMs`) sends nothing
 *                   and ignores everything while the socket stays open: half-open
 *   drop-mid-config closes the socket after `dropAfterNodes` node infos
 *   garbage         log text, noise and oversized headers between every frame, plus a
 *                   stale config_complete, an unknown FromRadio variant and log records
 *   reboot          `rebootAfterMs` after each completed handshake the radio reboots:
 *                   every client is dropped and the port refuses connections for
 *                   `rebootDownMs`; it comes back with reboot_count + 1
 * Always: one client at a time (a new connection kicks the current one), heartbeats
 * answered with a queueStatus (as current firmware does), clients idle for
 * `idleTimeoutMs` dropped.
 */
export const EMULATOR_MODES = ['normal', 'stall', 'silent', 'drop-mid-config', 'garbage', 'reboot'] as const;
export type EmulatorMode = (typeof EMULATOR_MODES)[number];

export interface Esp32EmulatorOptions {
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** The node database, or how many nodes to generate (default 40; the first is the radio itself). */
  nodes?: EmulatedNode[] | number;
  seed?: number;
  mode?: EmulatorMode;
  stallAfterNodes?: number;
  dropAfterNodes?: number;
  silentAfterMs?: number;
  rebootAfterMs?: number;
  rebootDownMs?: number;
  /** Pause between frames of the config dump (0: write them all at once). */
  frameDelayMs?: number;
  /** A client that sends nothing for this long is dropped (firmware: 15 min). */
  idleTimeoutMs?: number;
  firmwareVersion?: string;
  logger?: Logger;
}

export interface EmulatorStats {
  connections: number;
  /** Clients dropped because another one connected. */
  kicked: number;
  /** Every want_config_id received, in order. */
  wantConfigs: number[];
  completes: number;
  heartbeats: number;
  reboots: number;
  idleDrops: number;
}

export interface Esp32Emulator {
  readonly host: string;
  readonly port: number;
  readonly stats: EmulatorStats;
  mode(): EmulatorMode;
  setMode(mode: EmulatorMode): void;
  nodes(): EmulatedNode[];
  /** Replaces nodes (by num) in the database; the next handshake reports them. */
  updateNodes(...nodes: EmulatedNode[]): void;
  /** Connected clients (0 or 1). */
  clients(): number;
  rebootCount(): number;
  /** The current client stops sending and ignores everything; its socket stays open. */
  goSilent(): void;
  /** Resets the current client's socket. */
  kick(): void;
  /** Sends a FromRadio to the current client (e.g. a packet during the key sync). */
  send(payloadVariant: FromRadioVariant): boolean;
  /** A text message packet from `from` to everyone. */
  sendTextPacket(from: number, text: string): boolean;
  /** Writes raw bytes to the current client as they are (fault injection: malformed frames). */
  sendRaw(bytes: Uint8Array): boolean;
  /** Drops every client, refuses connections for `downMs`, comes back with reboot_count + 1. */
  reboot(downMs?: number): Promise<void>;
  /** Powers off: clients reset, port closed (connections refused) until `start()`. */
  powerOff(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const BROADCAST = 0xffff_ffff;

/** Starts the emulated radio's TCP API. */
export async function startEsp32Emulator(options: Esp32EmulatorOptions = {}): Promise<Esp32Emulator> {
  const log = options.logger ?? componentLogger('esp32-emulator');
  const host = options.host ?? '127.0.0.1';
  let db: EmulatedNode[] = Array.isArray(options.nodes) ? [...options.nodes] : generateNodeDb({ count: options.nodes ?? 40, seed: options.seed ?? 6 });
  let mode: EmulatorMode = options.mode ?? 'normal';
  let rebootCount = 0;
  const stats: EmulatorStats = { connections: 0, kicked: 0, wantConfigs: [], completes: 0, heartbeats: 0, reboots: 0, idleDrops: 0 };
  const random = seededRandom(options.seed ?? 6);
  const idleTimeoutMs = options.idleTimeoutMs ?? 15 * 60_000;
  const firmwareVersion = options.firmwareVersion ?? '2.7.18.emulated';
  let current: Session | null = null;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  let rebooting: Promise<void> | null = null;
  let closed = false;

  interface Session {
    socket: Socket;
    silent: boolean;
    nextId: number;
    /** Bumped on every want_config: a dump in progress stops when it is superseded. */
    generation: number;
    idle: NodeJS.Timeout | undefined;
    write(bytes: Uint8Array): void;
  }

  function openSession(socket: Socket): Session {
    const session: Session = {
      socket,
      silent: false,
      nextId: 1,
      generation: 0,
      idle: undefined,
      write(bytes) {
        if (!session.silent && !socket.destroyed && socket.writable) socket.write(bytes);
      },
    };
    return session;
  }

  function touch(session: Session): void {
    if (session.idle) clearTimeout(session.idle);
    session.idle = setTimeout(() => {
      stats.idleDrops += 1;
      log.info('client idle for too long: dropped');
      session.socket.destroy();
    }, idleTimeoutMs);
  }

  function fromRadio(session: Session, variant: FromRadioVariant): Uint8Array {
    return frameFromRadio(session.nextId++, variant);
  }

  /** Log text, noise and an oversized header: nothing the link may mistake for a frame. */
  function garbage(): Uint8Array {
    const text = new TextEncoder().encode(`INFO  | ${new Date().toISOString().slice(11, 19)} [Router] noise ${Math.floor(random() * 1e6)}\r\n`);
    const noise = Array.from({ length: 1 + Math.floor(random() * 12) }, () => Math.floor(random() * 256));
    for (let i = 0; i < noise.length; i++) if (noise[i] === FRAME_START1) noise[i + 1] = 0x00;
    const oversized = [FRAME_START1, FRAME_START2, 0x7f, Math.floor(random() * 256)];
    return Uint8Array.from([...text, ...noise.slice(0, 12), ...oversized]);
  }

  function handshake(session: Session, nonce: number): void {
    const generation = ++session.generation;
    const script = mode;
    let frames = configDump(db, nonce, { rebootCount, firmwareVersion });
    const nodeLimit = script === 'stall' ? (options.stallAfterNodes ?? Math.floor(db.length / 2)) : script === 'drop-mid-config' ? (options.dropAfterNodes ?? Math.floor(db.length / 2)) : null;
    if (nodeLimit !== null) {
      let seen = 0;
      const cut = frames.findIndex((f) => f.case === 'nodeInfo' && ++seen > nodeLimit);
      frames = frames.slice(0, cut < 0 ? frames.length - 1 : cut);
    }
    if (script === 'garbage') {
      frames.splice(Math.min(3, frames.length - 1), 0, { case: 'configCompleteId', value: (nonce ^ 0x1) >>> 0 }, { case: 'logRecord', value: create(Mesh.LogRecordSchema, { message: 'emulated log line', level: 20 }) });
    }
    const finish = (): void => {
      if (generation !== session.generation || session.socket.destroyed) return;
      if (script === 'drop-mid-config') {
        log.info({ nonce }, 'drop mid-config: closing the socket');
        session.socket.destroy();
        return;
      }
      if (script === 'stall') {
        log.info({ nonce }, 'stalling before config complete');
        return;
      }
      stats.completes += 1;
      if (script === 'silent') later(options.silentAfterMs ?? 0, () => (session.silent = true));
      if (script === 'reboot') later(options.rebootAfterMs ?? 1_000, () => void emulator.reboot(options.rebootDownMs));
    };
    const writeFrame = (variant: FromRadioVariant): void => {
      if (script === 'garbage') session.write(garbage());
      session.write(fromRadio(session, variant));
      if (script === 'garbage' && variant.case === 'metadata') session.write(unknownVariantFrame(session.nextId++));
    };
    const delay = options.frameDelayMs ?? 0;
    if (delay === 0) {
      for (const f of frames) writeFrame(f);
      if (script === 'drop-mid-config') session.socket.write(new Uint8Array(0), finish);
      else finish();
      return;
    }
    let i = 0;
    const step = (): void => {
      if (generation !== session.generation || session.socket.destroyed) return;
      if (i >= frames.length) return finish();
      writeFrame(frames[i++]!);
      later(delay, step);
    };
    step();
  }

  function onToRadio(session: Session, payload: Uint8Array): void {
    if (session.silent) return;
    const message = decodeToRadio(payload);
    if (!message) return;
    touch(session);
    const v = message.payloadVariant;
    switch (v.case) {
      case 'wantConfigId':
        stats.wantConfigs.push(v.value);
        log.info({ nonce: v.value, mode }, 'want_config');
        handshake(session, v.value);
        break;
      case 'heartbeat':
        stats.heartbeats += 1;
        session.write(fromRadio(session, { case: 'queueStatus', value: create(Mesh.QueueStatusSchema, { res: 0, free: 16, maxlen: 16 }) }));
        break;
      case 'disconnect':
        session.generation += 1;
        session.socket.end();
        break;
      default:
        break;
    }
  }

  function onConnection(socket: Socket): void {
    stats.connections += 1;
    socket.setNoDelay(true);
    socket.on('error', () => {});
    if (current) {
      stats.kicked += 1;
      log.info('a new client connected: the current one is dropped (one client at a time)');
      current.socket.destroy();
    }
    const session = openSession(socket);
    current = session;
    touch(session);
    const deframer = createDeframer({ accept: (p) => decodeToRadio(p) !== null });
    socket.on('data', (chunk: Buffer) => {
      for (const event of deframer.push(chunk)) if (event.type === 'frame') onToRadio(session, event.payload);
    });
    socket.on('close', () => {
      if (session.idle) clearTimeout(session.idle);
      session.generation += 1;
      if (current === session) current = null;
    });
  }

  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = options.port ?? 0;

  async function listen(): Promise<void> {
    if (closed) return;
    const s = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      onConnection(socket);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    const address = s.address();
    if (typeof address === 'object' && address) port = address.port;
    server = s;
    log.info({ host, port, nodes: db.length, mode }, 'ESP32 emulator listening');
  }

  async function shutdown(): Promise<void> {
    const s = server;
    server = null;
    for (const socket of sockets) socket.resetAndDestroy();
    current = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  const emulator: Esp32Emulator = {
    host,
    get port() {
      return port;
    },
    stats,
    mode: () => mode,
    setMode: (next) => {
      mode = next;
      log.info({ mode }, 'mode changed');
    },
    nodes: () => [...db],
    updateNodes: (...nodes) => {
      const byNum = new Map(nodes.map((n) => [n.num, n]));
      db = db.map((n) => byNum.get(n.num) ?? n);
      for (const n of nodes) if (!db.some((d) => d.num === n.num)) db.push(n);
    },
    clients: () => (current ? 1 : 0),
    rebootCount: () => rebootCount,
    goSilent: () => {
      if (current) current.silent = true;
    },
    kick: () => current?.socket.resetAndDestroy(),
    send: (variant) => {
      if (!current || current.silent) return false;
      current.write(fromRadio(current, variant));
      return true;
    },
    sendRaw: (bytes) => {
      if (!current || current.silent) return false;
      current.write(bytes);
      return true;
    },
    sendTextPacket: (from, text) =>
      emulator.send({
        case: 'packet',
        value: create(Mesh.MeshPacketSchema, {
          from,
          to: BROADCAST,
          id: Math.floor(random() * 0xffff_fff0) + 1,
          rxTime: Math.floor(Date.now() / 1000),
          payloadVariant: { case: 'decoded', value: create(Mesh.DataSchema, { portnum: 1, payload: new TextEncoder().encode(text) }) },
        }),
      }),
    reboot: (downMs = options.rebootDownMs ?? 2_000) => {
      rebooting ??= (async () => {
        stats.reboots += 1;
        log.info({ downMs }, 'rebooting');
        await shutdown();
        await new Promise((r) => later(downMs, () => r(undefined)));
        rebootCount += 1;
        await listen();
      })().finally(() => (rebooting = null));
      return rebooting;
    },
    powerOff: async () => {
      log.info('powered off');
      await shutdown();
    },
    start: async () => {
      if (!server) await listen();
    },
    close: async () => {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await shutdown();
    },
  };

  await listen();
  return emulator;
}

/** A FromRadio carrying only a field number no build knows (99): an unknown variant. */
function unknownVariantFrame(id: number): Uint8Array {
  // field 1 (id) varint, field 99 length-delimited "?" — tag 99<<3|2 = 794 = 0x9a 0x06
  const idBytes: number[] = [];
  for (let v = id >>> 0; ; ) {
    if (v < 0x80) {
      idBytes.push(v);
      break;
    }
    idBytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  return encodeFrame(Uint8Array.from([0x08, ...idBytes, 0x9a, 0x06, 0x01, 0x3f]));
}
