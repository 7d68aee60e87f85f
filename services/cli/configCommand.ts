import { jsonSchemaOf } from '../config/configOptions.ts';
import { lifelineConfigSchema, loadLifelineConfig } from '../config/lifelineConfig.ts';
import type { RuntimeConfig } from './config.ts';

export const CONFIG_HELP = `usage: lifeline config [--config FILE] [--schema]

Checks the configuration without starting anything: reads the configuration file
(--config, LIFELINE_CONFIG, else ./lifeline.config.json) and the env vars and flags, and
prints both as they will be used, every default filled in. A wrong option exits 1 with
the field named (e.g. pollers[0].intervalMs). Every option: docs/configuration.md.

  --schema     print the JSON Schema of the configuration file instead (for "$schema")
`;

/** `lifeline config`: the resolved configuration (or, with `schema`, the file's JSON Schema) on stdout. */
export function runConfig(config: RuntimeConfig, options: { schema?: boolean } = {}): number {
  if (options.schema) {
    process.stdout.write(`${JSON.stringify(jsonSchemaOf(lifelineConfigSchema), null, 2)}\n`);
    return 0;
  }
  const { path, ...declared } = loadLifelineConfig(config.configFile);
  process.stdout.write(`${JSON.stringify({ file: path, runtime: config, declared }, null, 2)}\n`);
  return 0;
}
