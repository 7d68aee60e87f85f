import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_INSPECT_PORT } from './inspector.ts';
import { ConfigError, loadRuntimeConfig } from './config.ts';
import { ConfigFileError } from '../config/lifelineConfig.ts';
import { NatsNotRunningError } from './natsEndpoint.ts';
import { parseRunRequest, RUN_HELP, runService, runServiceHelp, RunUsageError } from './run.ts';
import { CONFIG_HELP, runConfig } from './configCommand.ts';
import { runReplay } from './replay.ts';
import { runStatus } from './status.ts';
import { runUp } from './up.ts';
import { runWatch } from './watch.ts';

const USAGE = `lifeline — keeps long-lived connections honest

usage: lifeline <command> [options]

commands:
  up                     start nats-server (unless NATS_URL is set), provision, and every service
  run <service> [name…]  run one service alone against NATS_URL: projector | telemetry | hub | device-gateway |
                         child <name…> | link <name…> | poller <name…> (lifeline run --help)
  watch [subject]        print transitions one line each (default subject: conn.>); --json for raw records
  status                 every actor's state from the actors projection; --json
  replay                 wipe the projections and rebuild them from the event log
  config                 check the configuration file and env; print them resolved (--schema: its JSON Schema)
  sim [options]          device simulator (lifeline sim --help)
  publish [options]      telemetry publisher: --session S --source FILE|sim (lifeline publish --help)

options (each also from env):
  --data-dir DIR         data directory (LIFELINE_DATA_DIR, default ./.lifeline)
  --config FILE          configuration file (LIFELINE_CONFIG, default ./lifeline.config.json if present)
  --nats-url URL         use this NATS server, launch none (NATS_URL)
  --http-host HOST       hub HTTP address to bind (LIFELINE_HTTP_HOST, default 127.0.0.1)
  --http-port N          hub HTTP + /ws port (LIFELINE_HTTP_PORT, default 7070)
  --device-host HOST     device gateway address to bind (LIFELINE_DEVICE_HOST, default 127.0.0.1)
  --device-port N        device gateway TCP port (LIFELINE_DEVICE_PORT, default 7071)
  --gateway-name NAME    this gateway's name (LIFELINE_GATEWAY_NAME, default gateway-1)
  --demo                 up: infra/demo.config.json plus simulated peers and failures (see README)
  --inspect              up, run: attach the Stately inspector (@statelyai/inspect) to every actor
  --inspect-port N       up, run: the inspector server's port (LIFELINE_INSPECT_PORT, default 8090)
  -h, --help             this help

Every option, env var and configuration-file field: docs/configuration.md
`;

const COMMAND_HELP: Record<string, string> = {
  up: 'usage: lifeline up [--demo] [--inspect [--inspect-port N]] [--config FILE] [--data-dir DIR] [--nats-url URL] [--http-port N] [--device-port N]\n  --demo: infra/demo.config.json plus simulated devices, telemetry, RPC backend and ESP32 radio, with failures\n  --inspect: the Stately inspector at http://localhost:8090 (needs internet; the dashboard at /dashboard/ does not)\n  Ctrl-C stops everything in reverse order; a second Ctrl-C forces it.\n',
  run: RUN_HELP,
  watch: 'usage: lifeline watch [subject] [--json]\n  e.g. lifeline watch "conn.*.*.failed"\n',
  status: 'usage: lifeline status [--json]\n',
  replay: 'usage: lifeline replay [--data-dir DIR]\n',
  config: CONFIG_HELP,
};

const inspectPortSchema = z.coerce.number().int().min(1).max(65_535);

/** The inspector's port when `--inspect` (or `--inspect-port`) is given; LIFELINE_INSPECT_PORT only sets the port. */
function inspectPortOf(inspect: boolean | undefined, flagPort: string | undefined, envPort: string | undefined): number | undefined {
  if (!inspect && flagPort === undefined) return undefined;
  const [source, port] = flagPort !== undefined ? ['--inspect-port', flagPort] : ['LIFELINE_INSPECT_PORT', envPort];
  if (port === undefined || port === '') return DEFAULT_INSPECT_PORT;
  const parsed = inspectPortSchema.safeParse(port);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${source}: expected a port (1–65535)`);
  return parsed.data;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'publish') {
    const { main: publish } = await import('./publish.ts');
    return publish(rest);
  }
  if (command === 'sim') {
    const { main: sim } = await import('../../infra/device-sim/cli.ts');
    return sim(rest);
  }
  if (command === 'help' && rest[0] && rest[0] in COMMAND_HELP) {
    process.stdout.write(rest[0] === 'run' && rest[1] ? runServiceHelp(rest[1]) : COMMAND_HELP[rest[0]]!);
    return 0;
  }
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (!(command in COMMAND_HELP)) {
    process.stderr.write(`lifeline: unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        'data-dir': { type: 'string' },
        config: { type: 'string' },
        'nats-url': { type: 'string' },
        'http-host': { type: 'string' },
        'http-port': { type: 'string' },
        'device-host': { type: 'string' },
        'device-port': { type: 'string' },
        'gateway-name': { type: 'string' },
        json: { type: 'boolean' },
        demo: { type: 'boolean' },
        inspect: { type: 'boolean' },
        'inspect-port': { type: 'string' },
        all: { type: 'boolean' },
        schema: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    process.stderr.write(`lifeline ${command}: ${(err as Error).message}\n${COMMAND_HELP[command]}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(command === 'run' && positionals[0] ? runServiceHelp(positionals[0]) : COMMAND_HELP[command]!);
    return 0;
  }
  try {
    const config = loadRuntimeConfig({
      dataDir: values['data-dir'],
      configFile: values.config,
      natsUrl: values['nats-url'],
      httpHost: values['http-host'],
      httpPort: values['http-port'],
      deviceHost: values['device-host'],
      devicePort: values['device-port'],
      gatewayName: values['gateway-name'],
    });
    switch (command) {
      case 'up': {
        const inspectPort = inspectPortOf(values.inspect, values['inspect-port'], process.env.LIFELINE_INSPECT_PORT);
        return await runUp(config, { demo: values.demo ?? false, ...(inspectPort !== undefined ? { inspectPort } : {}) });
      }
      case 'run': {
        const request = parseRunRequest(positionals, values.all ?? false);
        const inspectPort = inspectPortOf(values.inspect, values['inspect-port'], process.env.LIFELINE_INSPECT_PORT);
        return await runService(request, config, inspectPort);
      }
      case 'watch':
        return await runWatch(config, positionals[0] ?? 'conn.>', values.json ?? false);
      case 'status':
        return await runStatus(config, values.json ?? false);
      case 'replay':
        return await runReplay(config);
      case 'config':
        return runConfig(config, { schema: values.schema ?? false });
    }
    return 2;
  } catch (err) {
    if (err instanceof RunUsageError) {
      process.stderr.write(`lifeline run: ${err.message}\n  (lifeline run --help lists the services)\n`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof ConfigFileError || err instanceof NatsNotRunningError) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
