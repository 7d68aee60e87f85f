/**
 * The child supervisor alone, as its own process (for the idle-CPU figure of
 * test/bench/childRestart.ts): `node --import tsx test/bench/childSupervisorProcess.ts
 * <nats url> <data dir> <config file>`. Prints `children ready <n>` once every declared
 * child is ready; SIGTERM stops them all and exits.
 */
import { dirname } from 'node:path';
import { loadRuntimeConfig } from '../../services/cli/config.ts';
import { resolveNatsEndpoint } from '../../services/cli/natsEndpoint.ts';
import { startChildServices } from '../../services/cli/services/childServices.ts';
import { loadLifelineConfig } from '../../services/config/lifelineConfig.ts';

const [natsUrl, dataDir, configFile] = process.argv.slice(2);
if (!natsUrl || !dataDir || !configFile) {
  process.stderr.write('usage: childSupervisorProcess.ts <nats url> <data dir> <config file>\n');
  process.exit(2);
}
const config = loadRuntimeConfig({ natsUrl, dataDir, configFile }, {});
const declared = loadLifelineConfig(configFile);
const services = await startChildServices(await resolveNatsEndpoint(config), config, declared.children, { baseDir: dirname(configFile) });
let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void Promise.all(services.map((s) => s.stop())).finally(() => process.exit(0));
});
await Promise.all(services.map((s) => s.supervisor.waitFor((path) => path === 'ready', 180_000)));
process.stdout.write(`children ready ${services.length}\n`);
