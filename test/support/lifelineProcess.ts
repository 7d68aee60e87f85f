import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/lifeline.js', import.meta.url));

export interface LifelineProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves once the process printed `text` (or rejects after timeoutMs / on exit). */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `lifeline <args>` as a real child process (killed with SIGKILL if still alive at exit). */
export function spawnLifeline(args: string[], env: NodeJS.ProcessEnv = {}): LifelineProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LIFELINE_LOG_LEVEL: 'warn', LIFELINE_LOG_JSON: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      process.off('exit', killOnExit);
      resolve(code);
    }),
  );
  return {
    child,
    output: () => out,
    waitForOutput: (text, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`no "${text}" within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
        const check = (): void => {
          if (out.includes(text)) {
            clearTimeout(deadline);
            resolve();
          }
        };
        child.stdout!.on('data', check);
        void exited.then((code) => {
          clearTimeout(deadline);
          if (!out.includes(text)) reject(new Error(`exited (${code}) before "${text}"; output:\n${out}`));
        });
        check();
      }),
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
