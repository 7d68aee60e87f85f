import { realpathSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { CLI_USAGE, parseCliArgs } from './cliArgs.ts';
import { describeBehavior } from './behavior.ts';
import { SimRunner } from './simRunner.ts';

export { CLI_USAGE, parseCliArgs, type CliOptions } from './cliArgs.ts';

/** Where the CLI reads commands and writes status lines; defaults to the process's own. */
export interface CliIo {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  env?: NodeJS.ProcessEnv;
  /** Aborting it stops the run like Ctrl-C. */
  signal?: AbortSignal;
  /** Install SIGINT/SIGTERM handlers (default true). */
  handleSignals?: boolean;
}

/**
 * The device simulator command. Resolves with the exit code: 0 after a clean stop (Ctrl-C,
 * SIGTERM, `quit`, or `io.signal`), 2 for a bad option. Never calls `process.exit`.
 */
export async function main(argv: readonly string[] = process.argv.slice(2), io: CliIo = {}): Promise<number> {
  const stdin = io.stdin ?? process.stdin;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;

  const parsed = parseCliArgs(argv, io.env ?? process.env);
  if (parsed.kind === 'help') {
    stdout.write(CLI_USAGE);
    return 0;
  }
  if (parsed.kind === 'error') {
    for (const line of parsed.message.split('\n')) stderr.write(`device-sim: ${line}\n`);
    stderr.write('Run with --help for usage.\n');
    return 2;
  }
  const options = parsed.options;

  const say = (device: string | undefined, text: string): void => {
    stdout.write(`${timestamp()} ${(device ?? 'device-sim').padEnd(10)} ${text}\n`);
  };
  const runner = new SimRunner(options, say);

  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  let shuttingDown = false;
  const shutdown = (force: boolean): void => {
    if (shuttingDown) {
      if (force) {
        say(undefined, 'resetting every connection now');
        void runner.stop(true);
      }
      return;
    }
    shuttingDown = true;
    say(undefined, `closing ${runner.connectedCount} connected devices (Ctrl-C again to reset them at once)`);
    void runner.stop().then(resolveDone, resolveDone);
  };

  const onSigint = () => shutdown(shuttingDown);
  const onSigterm = () => shutdown(false);
  const handleSignals = io.handleSignals ?? true;
  if (handleSignals) {
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
  }
  const onAbort = () => shutdown(false);
  io.signal?.addEventListener('abort', onAbort, { once: true });

  const lines = createInterface({ input: stdin, crlfDelay: Infinity, terminal: false });
  lines.on('line', (line) => {
    if (!runner.perform(line)) shutdown(false);
  });

  say(
    undefined,
    `${options.devices} device(s) × ${options.nodes} node(s) → ${options.host}:${options.port}, behavior ${describeBehavior(options.behavior)}; type 'help' for commands`,
  );
  runner.start();
  if (options.chaos) runner.startChaos({ intervalMs: options.chaosIntervalMs, pauseMs: options.chaosPauseMs, seed: options.seed });
  if (io.signal?.aborted) shutdown(false);

  await done;
  lines.close();
  io.signal?.removeEventListener('abort', onAbort);
  if (handleSignals) {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
  say(undefined, 'all devices closed');
  return 0;
}

function timestamp(): string {
  return new Date().toISOString().slice(11, 23);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2));
}
