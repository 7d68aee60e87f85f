import { parseArgs } from 'node:util';
import { z } from 'zod';
import { SIM_BEHAVIOR_NAMES } from './behavior.ts';
import { RUNNER_COMMANDS_HELP } from './simRunner.ts';

export const DEFAULT_DEVICE_PORT = 7071;

export const CLI_USAGE = `Usage: node --import tsx infra/device-sim/cli.ts [options]

Simulated devices that connect to the Lifeline device gateway over TCP.

Options:
  --host <host>             gateway host (default 127.0.0.1)
  --port <port>             gateway port (default $LIFELINE_DEVICE_PORT or ${DEFAULT_DEVICE_PORT})
  --devices <n>             number of devices (default 1)
  --nodes <m>               node instances per device (default 1)
  --prefix <text>           device names are <prefix>1..<prefix>n (default dev)
  --behavior <name>         how commands are answered (default normal):
                            ${SIM_BEHAVIOR_NAMES.join(', ')}
  --result-delay <ms>       delay between ack and result (default 20)
  --reconnect-delay <ms>    reconnect a device this long after its socket closed;
                            0 = never (default 2000)
  --concurrency <n>         connection handshakes in flight at most (default 100)
  --chaos                   demo mode: every few seconds a random device crashes, goes
                            silent, sends garbage or hangs, then reconnects after a pause
  --chaos-interval <ms>     time between chaos actions (default 3000)
  --chaos-pause <ms>        a silent or hanging device is recycled after this (default 10000)
  --seed <n>                seed of the chaos PRNG (default: time based)
  --quiet                   no line per command received
  -h, --help                show this help

While running, type on stdin:
${RUNNER_COMMANDS_HELP.map((line) => `  ${line}`).join('\n')}
Ctrl-C closes every device cleanly (a second Ctrl-C resets them at once).
`;

export interface CliOptions {
  host: string;
  port: number;
  devices: number;
  nodes: number;
  prefix: string;
  behavior: (typeof SIM_BEHAVIOR_NAMES)[number];
  resultDelayMs: number;
  reconnectDelayMs: number;
  concurrency: number;
  chaos: boolean;
  chaosIntervalMs: number;
  chaosPauseMs: number;
  seed: number;
  quiet: boolean;
}

export type ParsedCliArgs = { kind: 'help' } | { kind: 'run'; options: CliOptions } | { kind: 'error'; message: string };

const wholeNumber = (label: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, { error: (issue) => `${label} must be a whole number (got '${String(issue.input)}')` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `${label} must be at least ${min}` })
        .max(max, { error: `${label} must be at most ${max}` }),
    );

const cliSchema = z.object({
  host: z.string().trim().min(1, { error: '--host must not be empty' }).default('127.0.0.1'),
  port: wholeNumber('--port', 1, 65_535),
  devices: wholeNumber('--devices', 1, 100_000).default(1),
  nodes: wholeNumber('--nodes', 1, 10_000).default(1),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, { error: '--prefix may contain only letters, digits, _ . -' })
    .default('dev'),
  behavior: z
    .enum(SIM_BEHAVIOR_NAMES, { error: (issue) => `--behavior must be one of ${SIM_BEHAVIOR_NAMES.join(', ')} (got '${String(issue.input)}')` })
    .default('normal'),
  'result-delay': wholeNumber('--result-delay', 0).default(20),
  'reconnect-delay': wholeNumber('--reconnect-delay', 0).default(2_000),
  concurrency: wholeNumber('--concurrency', 1, 10_000).default(100),
  chaos: z.boolean().default(false),
  'chaos-interval': wholeNumber('--chaos-interval', 100).default(3_000),
  'chaos-pause': wholeNumber('--chaos-pause', 0).default(10_000),
  seed: wholeNumber('--seed', 0, 0xffff_ffff).optional(),
  quiet: z.boolean().default(false),
});

/** Parses and validates the command line; never throws, never exits. */
export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedCliArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        devices: { type: 'string' },
        nodes: { type: 'string' },
        prefix: { type: 'string' },
        behavior: { type: 'string' },
        'result-delay': { type: 'string' },
        'reconnect-delay': { type: 'string' },
        concurrency: { type: 'string' },
        chaos: { type: 'boolean' },
        'chaos-interval': { type: 'string' },
        'chaos-pause': { type: 'string' },
        seed: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
  if (values.help) return { kind: 'help' };

  const portFromEnv = values.port === undefined && env.LIFELINE_DEVICE_PORT !== undefined;
  const { help: _help, ...rest } = values;
  const input = { ...rest, port: values.port ?? env.LIFELINE_DEVICE_PORT ?? String(DEFAULT_DEVICE_PORT) };
  const parsed = cliSchema.safeParse(input);
  if (!parsed.success) {
    const message = parsed.error.issues
      .map((issue) => (portFromEnv && issue.path[0] === 'port' ? `${issue.message} (from LIFELINE_DEVICE_PORT)` : issue.message))
      .join('\n');
    return { kind: 'error', message };
  }
  const v = parsed.data;
  if (v.chaos && v['reconnect-delay'] === 0) {
    return { kind: 'error', message: '--chaos needs a reconnect delay above 0, or the fleet empties' };
  }
  return {
    kind: 'run',
    options: {
      host: v.host,
      port: v.port,
      devices: v.devices,
      nodes: v.nodes,
      prefix: v.prefix,
      behavior: v.behavior,
      resultDelayMs: v['result-delay'],
      reconnectDelayMs: v['reconnect-delay'],
      concurrency: v.concurrency,
      chaos: v.chaos,
      chaosIntervalMs: v['chaos-interval'],
      chaosPauseMs: v['chaos-pause'],
      seed: v.seed ?? Date.now() % 0xffff_ffff,
      quiet: v.quiet,
    },
  };
}
