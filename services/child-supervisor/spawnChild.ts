import { spawn } from 'node:child_process';
import { killWithParent } from '../../infra/nats/exitHooks.ts';
import type { Logger } from '../log/logger.ts';
import { createLineRing } from './lineRing.ts';
import { withParentDeath } from './parentDeath.ts';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last stderr lines (the ring buffer). */
  stderr: string[];
}

export interface SpawnChildOptions {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stderrLines: number;
  logger: Logger;
  onSpawned(pid: number): void;
  onSpawnFailed(message: string): void;
  onExited(exit: ChildExit): void;
}

export interface SpawnedChild {
  readonly pid: number | undefined;
  isRunning(): boolean;
  /** Signals the child's process group (it leads one); nothing once it exited. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves once the exit was reported. */
  readonly exited: Promise<void>;
}

/** After `exit`, how long to wait for the pipes to drain (a grandchild may hold them open). */
const DRAIN_MS = 250;

/**
 * Spawns one run of a child: in its own process group, dying with this process (see
 * parentDeath.ts), stdout and stderr read line by line, the last stderr lines kept for
 * the error details. Reports spawned / spawn failed / exited through the callbacks.
 */
export function spawnChildProcess(options: SpawnChildOptions): SpawnedChild {
  const { logger: log } = options;
  const stderr = createLineRing(options.stderrLines);
  const wrapped = withParentDeath(options.command, options.args);
  if (!wrapped.armed) log.warn('setpriv not found: this child may outlive a supervisor that is killed with SIGKILL');
  let exited = false;
  let resolveExited!: () => void;
  const exitedPromise = new Promise<void>((r) => (resolveExited = r));

  const child = spawn(wrapped.command, wrapped.args, {
    cwd: options.cwd,
    env: { ...process.env, PYTHONUNBUFFERED: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  killWithParent(child);

  child.stdout!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split(/\r?\n/)) if (line.trim()) log.debug({ stream: 'stdout' }, line);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    for (const line of stderr.push(chunk)) log.debug({ stream: 'stderr' }, line);
  });
  child.once('spawn', () => options.onSpawned(child.pid!));
  child.once('error', (err: NodeJS.ErrnoException) => {
    if (child.pid !== undefined) {
      log.warn({ err: err.message }, 'child process error');
      return;
    }
    exited = true;
    resolveExited();
    options.onSpawnFailed(`${err.message} (cwd ${options.cwd})`);
  });
  child.once('exit', (code, signal) => {
    exited = true;
    let reported = false;
    const report = (): void => {
      if (reported) return;
      reported = true;
      clearTimeout(timer);
      options.onExited({ code, signal, stderr: stderr.lines() });
      resolveExited();
    };
    const timer = setTimeout(report, DRAIN_MS);
    child.once('close', report);
    if (child.stdout!.readableEnded && child.stderr!.readableEnded) report();
  });

  return {
    get pid() {
      return child.pid;
    },
    isRunning: () => !exited && child.pid !== undefined,
    signal(signal) {
      if (exited || child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        child.kill(signal);
      }
    },
    exited: exitedPromise,
  };
}
