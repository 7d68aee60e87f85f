import { realpathSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { formatIssues } from '../../services/bus/schemas/parse.ts';
import { EMULATOR_MODES, startEsp32Emulator, type Esp32Emulator, type Esp32EmulatorOptions } from './emulator.ts';
import { keyFromSeed } from './nodeDb.ts';

export const EMULATOR_USAGE = `Usage: node --import tsx infra/esp32-emulator/cli.ts [options]

An ESP32 Meshtastic radio's TCP API (framing 0x94 0xC3, FromRadio/ToRadio protobufs),
with a configurable node database and scripted failure modes.

Options:
  --host <host>               listen address (default 127.0.0.1)
  --port <port>               listen port (default 4403)
  --nodes <n>                 nodes in the database, the radio's own included (default 40)
  --seed <n>                  node numbers, names and keys derive from it (default 6)
  --mode <mode>               ${EMULATOR_MODES.join(' | ')} (default normal)
  --stall-after-nodes <n>     stall: node infos sent before stalling (default half)
  --drop-after-nodes <n>      drop-mid-config: node infos sent before the drop (default half)
  --silent-after <ms>         silent: quiet this long after config complete (default 0)
  --reboot-after <ms>         reboot: after each config complete (default 1000)
  --reboot-down <ms>          reboot: connections refused this long (default 2000)
  --frame-delay <ms>          pause between config frames (default 0)
  --idle-timeout <ms>         drop a client silent this long (default 900000)
  -h, --help                  show this help

While running, type on stdin:
  mode <mode>      switch the script for the next handshakes
  silent           the current client gets nothing more (half-open)
  kick             reset the current client's socket
  reboot [ms]      drop clients, refuse connections for ms, come back
  off | on         power off (refuse connections) / back on
  text <message>   a text packet from the second node
  raw <hex>        write these bytes to the client as they are (malformed frames for fault injection)
  rekey <index>    give node <index> a new public key (the next handshake reports it)
  status           counters
  quit             stop
`;

const int = (min: number) => z.coerce.number().int().min(min);
const argsSchema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: int(0).max(65_535).default(4403),
  nodes: int(1).max(5_000).default(40),
  seed: int(0).default(6),
  mode: z.enum(EMULATOR_MODES).default('normal'),
  'stall-after-nodes': int(0).optional(),
  'drop-after-nodes': int(0).optional(),
  'silent-after': int(0).optional(),
  'reboot-after': int(0).optional(),
  'reboot-down': int(0).optional(),
  'frame-delay': int(0).optional(),
  'idle-timeout': int(1).optional(),
});

export function parseEmulatorArgs(argv: readonly string[]): { kind: 'help' } | { kind: 'run'; options: Esp32EmulatorOptions } | { kind: 'error'; message: string } {
  let values: Record<string, string | boolean | undefined>;
  try {
    const strings = ['host', 'port', 'nodes', 'seed', 'mode', 'stall-after-nodes', 'drop-after-nodes', 'silent-after', 'reboot-after', 'reboot-down', 'frame-delay', 'idle-timeout'];
    values = parseArgs({
      args: [...argv],
      options: { ...Object.fromEntries(strings.map((s) => [s, { type: 'string' as const }])), help: { type: 'boolean', short: 'h' } },
      strict: true,
    }).values;
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
  if (values.help) return { kind: 'help' };
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) return { kind: 'error', message: formatIssues(parsed.error) };
  const a = parsed.data;
  const options: Esp32EmulatorOptions = { host: a.host, port: a.port, nodes: a.nodes, seed: a.seed, mode: a.mode };
  if (a['stall-after-nodes'] !== undefined) options.stallAfterNodes = a['stall-after-nodes'];
  if (a['drop-after-nodes'] !== undefined) options.dropAfterNodes = a['drop-after-nodes'];
  if (a['silent-after'] !== undefined) options.silentAfterMs = a['silent-after'];
  if (a['reboot-after'] !== undefined) options.rebootAfterMs = a['reboot-after'];
  if (a['reboot-down'] !== undefined) options.rebootDownMs = a['reboot-down'];
  if (a['frame-delay'] !== undefined) options.frameDelayMs = a['frame-delay'];
  if (a['idle-timeout'] !== undefined) options.idleTimeoutMs = a['idle-timeout'];
  return { kind: 'run', options };
}

/** One stdin command; returns the line to print, or null to quit. */
export async function runEmulatorCommand(emulator: Esp32Emulator, line: string): Promise<string | null> {
  const [command, ...rest] = line.trim().split(/\s+/);
  const arg = rest.join(' ');
  switch (command) {
    case '':
      return '';
    case 'mode':
      if (!(EMULATOR_MODES as readonly string[]).includes(arg)) return `modes: ${EMULATOR_MODES.join(', ')}`;
      emulator.setMode(arg as (typeof EMULATOR_MODES)[number]);
      return `mode ${arg}`;
    case 'silent':
      emulator.goSilent();
      return 'the current client hears nothing more';
    case 'kick':
      emulator.kick();
      return 'client reset';
    case 'reboot':
      await emulator.reboot(arg ? Number(arg) : undefined);
      return `rebooted (reboot_count ${emulator.rebootCount()})`;
    case 'off':
      await emulator.powerOff();
      return 'powered off: connections refused';
    case 'on':
      await emulator.start();
      return `listening on ${emulator.host}:${emulator.port}`;
    case 'text': {
      const from = emulator.nodes()[1]?.num ?? emulator.nodes()[0]!.num;
      return emulator.sendTextPacket(from, arg || 'hello') ? 'sent' : 'no client';
    }
    case 'raw': {
      const hex = arg.replace(/\s+/g, '');
      if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) return 'raw: hex bytes expected (e.g. raw 94c30003aabbcc)';
      return emulator.sendRaw(Buffer.from(hex, 'hex')) ? `raw ${hex.length / 2} bytes sent` : 'no client';
    }
    case 'rekey': {
      const node = emulator.nodes()[Number(arg)];
      if (!node) return `no node ${arg}`;
      emulator.updateNodes({ ...node, publicKey: keyFromSeed(Date.now()) });
      return `node ${node.num} has a new key (reported at the next handshake)`;
    }
    case 'status':
      return JSON.stringify({ mode: emulator.mode(), clients: emulator.clients(), rebootCount: emulator.rebootCount(), ...emulator.stats, wantConfigs: emulator.stats.wantConfigs.length });
    case 'quit':
    case 'exit':
      return null;
    default:
      return `unknown command '${command}' (mode, silent, kick, reboot, off, on, text, raw, rekey, status, quit)`;
  }
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const parsed = parseEmulatorArgs(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(EMULATOR_USAGE);
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`esp32-emulator: ${parsed.message}\nRun with --help for usage.\n`);
    return 2;
  }
  const emulator = await startEsp32Emulator(parsed.options);
  process.stdout.write(`ESP32 emulator on ${emulator.host}:${emulator.port} · ${emulator.nodes().length} nodes · mode ${emulator.mode()} · type 'status' or 'quit'\n`);
  return new Promise<number>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      rl.close();
      void emulator.close().then(() => resolve(0));
    };
    rl.on('line', (line) => {
      void runEmulatorCommand(emulator, line).then((out) => {
        if (out === null) stop();
        else if (out) process.stdout.write(`${out}\n`);
      });
    });
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (invokedDirectly) process.exitCode = await main();
