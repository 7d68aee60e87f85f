import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentLogger } from '../../services/log/logger.ts';
import { findNatsServerBinary } from './binary.ts';
import { loadOrCreateCredentials, type Credentials } from './credentials.ts';
import { killWithParent } from './exitHooks.ts';
import { freePorts } from './freePort.ts';
import { waitUntilReady } from './health.ts';
import { natsServerEnv, type NatsServerPorts } from './serverEnv.ts';
import { ServerLogSink } from './serverLog.ts';

/** The bundled server configuration at the root of the repository. */
export const DEFAULT_NATS_CONFIG = fileURLToPath(new URL('../../nats.conf', import.meta.url));
export const NATS_SERVER_LOG = 'nats-server.log';

const LOOPBACK = '127.0.0.1';
const DEFAULT_START_TIMEOUT_MS = 15_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;

export interface StartNatsServerOptions {
  /** Holds credentials.json, nats-server.log and the JetStream store (`jetstream/`). */
  dataDir: string;
  /** A port that is 0 or missing is picked free (tests); `restart()` keeps them. */
  ports?: { client?: number; websocket?: number; monitor?: number };
  /** Default: the repository's nats.conf. */
  configPath?: string;
  /** Default: findNatsServerBinary(). */
  binary?: string;
  /** How long to wait for /healthz after a spawn (default 15 s). */
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL (default 10 s). */
  stopTimeoutMs?: number;
  /** Use these instead of `<dataDir>/credentials.json` (the nodes of a cluster share one set). */
  credentials?: Credentials;
  /** More variables for the config file (a cluster node's name, routes, …); ours win on a clash. */
  env?: Record<string, string>;
  /**
   * What "started" means: `healthz` (default) waits for /healthz 200, JetStream current
   * included; `serving` only for the server to answer /varz. A cluster node restarted
   * under load can take minutes to be current while serving and routing normally: its
   * launcher waits for `serving`, then for the cluster to agree on a meta leader.
   */
  readiness?: 'healthz' | 'serving';
}

export interface NatsServerHandle {
  /** `nats://127.0.0.1:<client port>` */
  readonly url: string;
  /** `ws://127.0.0.1:<websocket port>` */
  readonly wsUrl: string;
  /** `http://127.0.0.1:<monitor port>` */
  readonly monitorUrl: string;
  readonly ports: Readonly<NatsServerPorts>;
  readonly dataDir: string;
  /** JetStream `store_dir` (nats-server keeps its files in a `jetstream/` folder inside). */
  readonly storeDir: string;
  readonly logPath: string;
  readonly credentials: Credentials;
  /** The pid of the current (or last) nats-server process. */
  readonly pid: number;
  /** True while the process runs. */
  readonly running: boolean;
  /** SIGTERM, then SIGKILL after the stop timeout; resolves once it exited. */
  stop(): Promise<void>;
  /** Sends a (terminating) signal, default SIGKILL; resolves once it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it if still running, starts it again on the same ports and store, waits for /healthz. */
  restart(): Promise<void>;
}

export class NatsServerStartError extends Error {
  readonly code = 'NATS_SERVER_START_FAILED';
  readonly logPath: string;
  readonly lastLogLines: string[];

  constructor(reason: string, logPath: string, lastLogLines: string[]) {
    const tail = lastLogLines.length > 0 ? lastLogLines.map((l) => `  ${l}`).join('\n') : '  (no output)';
    super(`nats-server did not start: ${reason}\nLast lines of ${logPath}:\n${tail}`);
    this.name = 'NatsServerStartError';
    this.logPath = logPath;
    this.lastLogLines = lastLogLines;
  }
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface RunningProcess {
  child: ChildProcess;
  sink: ServerLogSink;
  /** Resolves once the process exited and its output was read to the end. */
  closed: Promise<Exit>;
  exit: Exit | undefined;
}

async function resolvePorts(requested: StartNatsServerOptions['ports'] = {}): Promise<NatsServerPorts> {
  const [client, websocket, monitor] = [requested.client, requested.websocket, requested.monitor];
  const missing = [client, websocket, monitor].filter((p) => !p).length;
  const picked = await freePorts(missing);
  const next = (p: number | undefined): number => (p ? p : (picked.shift() as number));
  return { client: next(client), websocket: next(websocket), monitor: next(monitor) };
}

function describeExit(exit: Exit | undefined): string {
  if (exit?.signal) return `it was ended by ${exit.signal}`;
  return `it exited with code ${exit?.code ?? 'unknown'}`;
}

/**
 * Starts the bundled nats-server (`nats-server -c nats.conf`) on 127.0.0.1 and waits
 * until /healthz answers 200. The process is killed when this process exits.
 */
export async function startNatsServer(opts: StartNatsServerOptions): Promise<NatsServerHandle> {
  const log = componentLogger('nats-launcher');
  const dataDir = resolve(opts.dataDir);
  const storeDir = join(dataDir, 'jetstream');
  const logPath = join(dataDir, NATS_SERVER_LOG);
  const configPath = resolve(opts.configPath ?? DEFAULT_NATS_CONFIG);
  const binary = opts.binary ?? findNatsServerBinary();
  const startTimeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const stopTimeoutMs = opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;

  await mkdir(dataDir, { recursive: true });
  const credentials = opts.credentials ?? (await loadOrCreateCredentials(dataDir));
  let ports!: NatsServerPorts;
  let env!: NodeJS.ProcessEnv;
  let monitorUrl!: string;
  /** Resolves the ports (free ones picked where none was asked for) and what follows from them. */
  const pickPorts = async (): Promise<void> => {
    ports = await resolvePorts(opts.ports);
    env = { ...process.env, ...opts.env, ...natsServerEnv(ports, storeDir, credentials) };
    monitorUrl = `http://${LOOPBACK}:${ports.monitor}`;
  };
  await pickPorts();
  let current: RunningProcess | undefined;

  const spawnServer = (): RunningProcess => {
    const child = spawn(binary, ['-c', configPath], { cwd: dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const sink = new ServerLogSink(logPath, log, `lifeline: ${binary} -c ${configPath} (pid ${child.pid ?? '-'})`);
    sink.attach(child.stdout!);
    sink.attach(child.stderr!);
    const running: RunningProcess = {
      child,
      sink,
      exit: undefined,
      closed: new Promise<Exit>((resolveClosed) => {
        const done = (exit: Exit): void => {
          running.exit ??= exit;
          resolveClosed(running.exit);
        };
        child.once('close', (code, signal) => done({ code, signal }));
        child.once('error', (err) => {
          sink.note(`lifeline: cannot run ${binary}: ${err.message}`);
          if (child.pid === undefined) done({ code: null, signal: null });
        });
      }),
    };
    child.once('exit', (code, signal) => {
      running.exit ??= { code, signal };
    });
    killWithParent(child);
    return running;
  };

  const isRunning = (): boolean => current !== undefined && current.exit === undefined;

  const stopCurrent = async (signal: NodeJS.Signals, escalateAfterMs?: number): Promise<void> => {
    const proc = current;
    if (proc === undefined || proc.exit !== undefined) {
      await proc?.closed;
      return;
    }
    proc.child.kill(signal);
    const escalation =
      escalateAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            log.warn({ pid: proc.child.pid, afterMs: escalateAfterMs }, 'nats-server ignored SIGTERM; sending SIGKILL');
            proc.child.kill('SIGKILL');
          }, escalateAfterMs);
    const exit = await proc.closed;
    if (escalation) clearTimeout(escalation);
    log.info({ pid: proc.child.pid, ...exit }, 'nats-server exited');
  };

  const startAndWait = async (): Promise<void> => {
    const proc = spawnServer();
    current = proc;
    const readiness = await waitUntilReady({
      monitorUrl,
      clientPort: ports.client,
      serverId: () => proc.sink.serverId,
      hasExited: () => proc.exit !== undefined,
      timeoutMs: startTimeoutMs,
      healthz: (opts.readiness ?? 'healthz') === 'healthz',
    });
    if (readiness === 'ready') {
      log.info({ pid: proc.child.pid, url: `nats://${LOOPBACK}:${ports.client}`, monitorUrl }, 'nats-server ready');
      return;
    }
    if (readiness === 'timeout') {
      proc.child.kill('SIGKILL');
      await proc.closed;
      throw new NatsServerStartError(`/healthz did not answer 200 within ${startTimeoutMs} ms`, logPath, proc.sink.lastLines());
    }
    const exit = await proc.closed;
    throw new NatsServerStartError(describeExit(exit), logPath, proc.sink.lastLines());
  };

  // a port picked free can be taken by another process before nats-server binds it (many
  // test files start servers at once): then the free ones are picked again, twice at most
  const pickedFree = !opts.ports?.client || !opts.ports?.websocket || !opts.ports?.monitor;
  for (let attempt = 1; ; attempt++) {
    try {
      await startAndWait();
      break;
    } catch (err) {
      const taken = err instanceof NatsServerStartError && err.lastLogLines.some((l) => l.includes('address already in use'));
      if (!taken || !pickedFree || attempt >= 3) throw err;
      log.warn({ ports }, 'a port picked free was taken before nats-server could bind it: picking again');
      await pickPorts();
    }
  }

  return {
    url: `nats://${LOOPBACK}:${ports.client}`,
    wsUrl: `ws://${LOOPBACK}:${ports.websocket}`,
    monitorUrl,
    ports,
    dataDir,
    storeDir,
    logPath,
    credentials,
    get pid(): number {
      return current?.child.pid ?? -1;
    },
    get running(): boolean {
      return isRunning();
    },
    stop: () => stopCurrent('SIGTERM', stopTimeoutMs),
    kill: (signal: NodeJS.Signals = 'SIGKILL') => stopCurrent(signal),
    restart: async () => {
      await stopCurrent('SIGTERM', stopTimeoutMs);
      await startAndWait();
    },
  };
}
