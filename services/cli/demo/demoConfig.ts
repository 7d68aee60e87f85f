import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loadLifelineConfig, type LifelineConfig } from '../../config/lifelineConfig.ts';
import { formatIssues } from '../../bus/schemas/parse.ts';
import { ConfigError } from '../config.ts';

export const DEMO_CONFIG_FILE = fileURLToPath(new URL('../../../infra/demo.config.json', import.meta.url));

const port = z.coerce.number().int().min(1).max(65_535);

/** The demo peers' ports: infra/demo.config.json's, each overridable by env (tests pick free ones). */
const demoPortsSchema = z.object({
  flask: port.optional(),
  rpc: port.optional(),
  radio: port.optional(),
});

export interface DemoPorts {
  flask: number;
  rpc: number;
  radio: number;
}

/** infra/demo.config.json with LIFELINE_DEMO_FLASK_PORT, LIFELINE_DEMO_RPC_PORT, LIFELINE_DEMO_RADIO_PORT applied. */
export function loadDemoConfig(env: NodeJS.ProcessEnv = process.env): { declared: LifelineConfig & { path: string | null }; ports: DemoPorts } {
  const parsed = demoPortsSchema.safeParse({
    flask: env.LIFELINE_DEMO_FLASK_PORT || undefined,
    rpc: env.LIFELINE_DEMO_RPC_PORT || undefined,
    radio: env.LIFELINE_DEMO_RADIO_PORT || undefined,
  });
  if (!parsed.success) throw new ConfigError(`invalid demo port: ${formatIssues(parsed.error)}`);
  const declared = loadLifelineConfig(DEMO_CONFIG_FILE);
  const flask = declared.children[0];
  const poller = declared.pollers[0];
  const link = declared.links[0];
  if (!flask || !poller || !link) throw new ConfigError(`${DEMO_CONFIG_FILE} must declare a child, a poller and a link`);
  // relative to infra/, wherever `lifeline up --demo` runs from
  if (flask.script) flask.script = resolve(dirname(DEMO_CONFIG_FILE), flask.script);
  if (parsed.data.flask) flask.port = parsed.data.flask;
  if (parsed.data.radio) link.port = parsed.data.radio;
  const rpcUrl = new URL(poller.url);
  if (parsed.data.rpc) rpcUrl.port = String(parsed.data.rpc);
  poller.url = rpcUrl.toString();
  return { declared, ports: { flask: flask.port ?? 5001, rpc: Number(rpcUrl.port), radio: link.port } };
}
