import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Scope } from './scope.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LIFELINE_BIN = fileURLToPath(new URL('../../../bin/lifeline.js', import.meta.url));

/** Every child still running; SIGKILLed if the bench process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
    // Interrupted (Ctrl-C, kill): stop the children, then exit, which also stops nats-server
    // (its launcher's exit hook) — temporary directories are left behind.
    const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
    for (const [signal, code] of Object.entries(codes)) {
      process.once(signal, () => {
        process.stderr.write(`bench: ${signal}, stopping ${live.size} child process(es)\n`);
        for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
        process.exit(code); // no results are written for an interrupted run
      });
    }
  }
}

export interface ChildHandle {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Resolves with the first stdout line matching `pattern` (rejects on exit or timeout). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Sends `line` to the child's stdin. */
  send(line: string): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr are copied here. */
  logPath: string;
}

/** Spawns a child whose stdout is read line by line (and logged to `logPath`). */
export function spawnChild(scope: Scope, options: SpawnOptions): ChildHandle {
  const child = spawn(options.command, options.args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  trackChild(child);
  const log = createWriteStream(options.logPath, { flags: 'a' });
  const watchers = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    log.write(`${line}\n`);
    for (const w of watchers) {
      if (w.pattern.test(line)) {
        watchers.delete(w);
        w.resolve(line);
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => log.write(chunk));
  child.stdin!.on('error', () => {}); // the child may exit before reading

  const handle: ChildHandle = {
    name: options.name,
    pid: child.pid ?? -1,
    child,
    logPath: options.logPath,
    exited,
    waitForLine(pattern, timeoutMs) {
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(watcher);
          reject(new Error(`${options.name}: no line matching ${pattern} within ${timeoutMs} ms (log: ${options.logPath})`));
        }, timeoutMs);
        const watcher = {
          pattern,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        watchers.add(watcher);
        void exited.then(({ code, signal }) => {
          if (!watchers.has(watcher)) return;
          watchers.delete(watcher);
          clearTimeout(timer);
          reject(new Error(`${options.name} exited (code ${code}, signal ${signal}) before printing ${pattern} (log: ${options.logPath})`));
        });
      });
    },
    send(line) {
      if (child.stdin!.writable) child.stdin!.write(`${line}\n`);
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      await new Promise<void>((resolve) => log.end(resolve));
    },
  };
  scope.defer(`stop ${options.name} (pid ${handle.pid})`, () => handle.stop());
  return handle;
}

export interface LifelineServiceOptions {
  natsUrl: string;
  /** The nats-server's data dir: holds credentials.json, so the service logs in as its own user. */
  dataDir: string;
  httpPort?: number;
  devicePort?: number;
  logPath: string;
  env?: NodeJS.ProcessEnv;
}

export type LifelineServiceName = 'projector' | 'hub' | 'device-gateway';

/**
 * `node bin/lifeline.js run <service>` as a child process; resolves once it printed
 * `<service> running: …`. Logs are JSON (pino) at LIFELINE_LOG_LEVEL (default info).
 */
export async function startLifelineService(scope: Scope, service: LifelineServiceName, options: LifelineServiceOptions): Promise<ChildHandle> {
  const args = [LIFELINE_BIN, 'run', service, '--nats-url', options.natsUrl, '--data-dir', options.dataDir];
  if (options.httpPort !== undefined) args.push('--http-port', String(options.httpPort));
  if (options.devicePort !== undefined) args.push('--device-port', String(options.devicePort));
  // BENCH_CPU_PROF=projector,hub: V8 CPU profiles of those services, written when they stop
  const profiled = (process.env.BENCH_CPU_PROF ?? '').split(',').includes(service);
  if (profiled) args.unshift('--cpu-prof', `--cpu-prof-dir=${join(dirname(options.logPath), 'profiles')}`);
  // BENCH_NODE_FLAGS='--trace-gc …': more Node/V8 flags for every service (diagnosis)
  if (process.env.BENCH_NODE_FLAGS) args.unshift(...process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean));
  const handle = spawnChild(scope, {
    name: service,
    command: process.execPath,
    args,
    env: { LIFELINE_LOG_JSON: '1', LIFELINE_LOG_LEVEL: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'info', ...options.env },
    logPath: options.logPath,
  });
  await handle.waitForLine(new RegExp(`^${service} running:`), 30_000);
  return handle;
}

/** `node --import tsx <script>` as a child (bench helpers such as the device fleet). */
export function spawnTsx(scope: Scope, name: string, script: string, args: string[], logPath: string, env?: NodeJS.ProcessEnv, nodeFlags: string[] = []): ChildHandle {
  return spawnChild(scope, {
    name,
    command: process.execPath,
    args: [...nodeFlags, '--import', 'tsx', script, ...args],
    logPath,
    ...(env ? { env } : {}),
  });
}
