/**
 * A simulated device fleet in its own process (so its sockets, memory and CPU are not the
 * gateway's nor the bench's). `node --import tsx test/bench/fleetProcess.ts <port> <count> <prefix> [concurrency]`
 * Prints `connected <n>` once every device got its welcome (or `failed <reason>` and exits 1);
 * closes every device and exits on SIGTERM or when stdin closes.
 */
import { connectSimFleet, type SimFleet } from '../../infra/device-sim/index.ts';

const [portText, countText, prefix, concurrencyText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
if (!Number.isInteger(port) || !Number.isInteger(count) || !prefix) {
  process.stderr.write('usage: fleetProcess.ts <port> <count> <prefix> [concurrency]\n');
  process.exit(2);
}

let fleet: SimFleet | undefined;
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(0), 10_000);
  await fleet?.closeAll();
  clearTimeout(timer);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();

try {
  const started = Date.now();
  fleet = await connectSimFleet({
    host: '127.0.0.1',
    port,
    count,
    namePrefix: prefix,
    behavior: 'normal',
    concurrency: Number(concurrencyText ?? 100),
    welcomeTimeoutMs: 30_000,
  });
  process.stdout.write(`connected ${fleet.devices.length} in ${Date.now() - started} ms\n`);
} catch (err) {
  process.stdout.write(`failed ${(err as Error).message}\n`);
  process.exit(1);
}
