/**
 * The RPC backend as a process:
 *   node --import tsx infra/rpc-backend/cli.ts [--port 7072] [--host 127.0.0.1]
 *        [--mode healthy|down|slow|http500|malformed|intermittent] [--delay-ms 5000] [--rate 0.3] [--payload-bytes 0]
 * On stdin, one command a line, at run time:
 *   healthy | down | slow [ms] | http500 | malformed | intermittent [rate] | payload <bytes> | status
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { FAULT_MODES, startRpcBackend, type Fault, type FaultMode } from './backend.ts';

const HELP = `usage: rpc-backend [--port 7072] [--host 127.0.0.1] [--mode ${FAULT_MODES.join('|')}] [--delay-ms 5000] [--rate 0.3] [--payload-bytes 0]
stdin: healthy | down | slow [ms] | http500 | malformed | intermittent [rate] | payload <bytes> | status`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${HELP}\n`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        port: { type: 'string', default: '7072' },
        host: { type: 'string', default: '127.0.0.1' },
        mode: { type: 'string', default: 'healthy' },
        'delay-ms': { type: 'string', default: '5000' },
        rate: { type: 'string', default: '0.3' },
        'payload-bytes': { type: 'string', default: '0' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
})();
if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const num = (name: string, text: string, min: number, max: number): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} must be a number in [${min}, ${max}]`);
  return n;
};
const port = num('port', values.port, 0, 65_535);
const mode = values.mode as FaultMode;
if (!FAULT_MODES.includes(mode)) fail(`--mode must be one of ${FAULT_MODES.join(', ')}`);
let delayMs = num('delay-ms', values['delay-ms'], 0, 600_000);
let rate = num('rate', values.rate, 0, 1);

const backend = await startRpcBackend({ port, host: values.host, fault: { mode, delayMs, rate }, payloadBytes: num('payload-bytes', values['payload-bytes'], 0, 10_000_000) });
const describe = (f: Fault): string => f.mode + (f.mode === 'slow' ? ` ${f.delayMs} ms` : f.mode === 'intermittent' ? ` ${f.rate}` : '');
process.stdout.write(`rpc-backend listening on ${backend.url} (${describe(backend.fault())})\n`);

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command = '', arg] = line.trim().split(/\s+/);
  if (!command) return;
  if (command === 'status') return void process.stdout.write(`${describe(backend.fault())} ${JSON.stringify(backend.stats())}\n`);
  if (command === 'payload') return backend.setPayloadBytes(Number(arg) || 0);
  if (!FAULT_MODES.includes(command as FaultMode)) return void process.stdout.write(`unknown command '${command}'\n${HELP}\n`);
  if (command === 'slow' && arg) delayMs = Number(arg) || delayMs;
  if (command === 'intermittent' && arg) rate = Math.min(1, Math.max(0, Number(arg) || rate));
  void backend.setFault({ mode: command as FaultMode, delayMs, rate }).then(() => process.stdout.write(`mode ${describe(backend.fault())}\n`));
});

const stop = (): void => void backend.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
