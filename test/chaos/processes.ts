import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Every process the chaos run starts, and how each one ended. A process the run killed or
 * stopped itself is an expected exit; any other exit is a crash (the checks want 0).
 */

const BIN = fileURLToPath(new URL('../../bin/lifeline.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ProcessExit {
  role: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed or stopped by the run itself. */
  expected: boolean;
  /** The last lines of its output (for a crash report). */
  tail: string;
}

export interface ManagedProcess {
  readonly role: string;
  readonly child: ChildProcess;
  output(): string;
  readonly running: boolean;
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** Writes one line on its stdin (the infra CLIs take commands there). */
  command(line: string): void;
  /** Sends the signal as an expected end and resolves once it exited. */
  kill(signal?: NodeJS.Signals): Promise<ProcessExit>;
  exited: Promise<ProcessExit>;
}

export class ProcessLedger {
  readonly exits: ProcessExit[] = [];
  private readonly live = new Set<ManagedProcess>();
  /** One exit hook for every process of the ledger: none outlives this one. */
  private readonly killOnExit = (): void => {
    for (const p of this.live) p.child.kill('SIGKILL');
  };

  constructor() {
    process.once('exit', this.killOnExit);
  }

  /** `lifeline <args>` (bin/lifeline.js), JSON logs at warn. */
  lifeline(role: string, args: string[], env: NodeJS.ProcessEnv = {}): ManagedProcess {
    return this.spawn(role, process.execPath, [BIN, ...args], { LIFELINE_LOG_LEVEL: 'warn', LIFELINE_LOG_JSON: '1', ...env });
  }

  /** A TypeScript entry point of this repository run through tsx (`infra/...`, `test/chaos/...`). */
  script(role: string, path: string, args: string[], env: NodeJS.ProcessEnv = {}): ManagedProcess {
    return this.spawn(role, process.execPath, ['--import', 'tsx', `${ROOT}${path}`, ...args], { LIFELINE_LOG_LEVEL: 'warn', LIFELINE_LOG_JSON: '1', ...env });
  }

  crashes(): ProcessExit[] {
    return this.exits.filter((e) => !e.expected);
  }

  running(): ManagedProcess[] {
    return [...this.live];
  }

  /** SIGKILLs whatever still runs (teardown). */
  async killAll(): Promise<void> {
    await Promise.all([...this.live].map((p) => p.kill('SIGKILL')));
    process.off('exit', this.killOnExit);
  }

  private spawn(role: string, command: string, args: string[], env: NodeJS.ProcessEnv): ManagedProcess {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const append = (d: Buffer): void => {
      out += d.toString();
      if (out.length > 200_000) out = out.slice(-100_000);
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    child.stdin!.on('error', () => {});
    let expected = false;
    const exited = new Promise<ProcessExit>((resolve) =>
      child.once('exit', (code, signal) => {
        const exit: ProcessExit = { role, pid: child.pid ?? -1, code, signal, expected, tail: out.split('\n').slice(-15).join('\n') };
        this.exits.push(exit);
        this.live.delete(managed);
        resolve(exit);
      }),
    );
    const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;
    const managed: ManagedProcess = {
      role,
      child,
      output: () => out,
      get running() {
        return isRunning();
      },
      waitForOutput: (text, timeoutMs = 30_000) =>
        new Promise<void>((resolve, reject) => {
          const check = (): void => {
            if (!out.includes(text)) return;
            cleanup();
            resolve();
          };
          const deadline = setTimeout(() => {
            cleanup();
            reject(new Error(`${role}: no "${text}" within ${timeoutMs} ms; output:\n${out.slice(-3_000)}`));
          }, timeoutMs);
          const onExit = (): void => {
            cleanup();
            if (out.includes(text)) resolve();
            else reject(new Error(`${role} exited (${child.exitCode ?? child.signalCode}) before "${text}"; output:\n${out.slice(-3_000)}`));
          };
          const cleanup = (): void => {
            clearTimeout(deadline);
            child.stdout!.off('data', check);
            child.off('exit', onExit);
          };
          child.stdout!.on('data', check);
          child.once('exit', onExit);
          check();
        }),
      command: (line) => {
        if (isRunning() && child.stdin!.writable) child.stdin!.write(`${line}\n`);
      },
      kill: async (signal = 'SIGKILL') => {
        expected = true;
        if (isRunning()) child.kill(signal);
        return exited;
      },
      exited,
    };
    this.live.add(managed);
    return managed;
  }
}
