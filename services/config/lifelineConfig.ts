import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { childSpecSchema } from '../child-supervisor/childSpec.ts';
import { linkSpecSchema } from '../esp32-link/linkSpec.ts';
import { pollerSpecSchema } from '../rpc-poller/pollerSpec.ts';
import { formatIssues } from '../bus/schemas/parse.ts';

/**
 * lifeline.config.json: the connections a site declares beyond devices. Every section is
 * optional; a wrong option is an error naming the field.
 */
export const lifelineConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  children: z.array(childSpecSchema).default([]),
  links: z.array(linkSpecSchema).default([]),
  pollers: z.array(pollerSpecSchema).default([]),
});
export type LifelineConfig = z.infer<typeof lifelineConfigSchema>;

export const DEFAULT_CONFIG_FILE = 'lifeline.config.json';

export class ConfigFileError extends Error {
  readonly code = 'INVALID_CONFIG';
}

/**
 * Reads the configuration file. The default path may be absent (then nothing beyond the
 * core services is declared); a path given explicitly must exist.
 */
export function loadLifelineConfig(path?: string): LifelineConfig & { path: string | null } {
  const file = resolve(path ?? DEFAULT_CONFIG_FILE);
  if (!existsSync(file)) {
    if (path) throw new ConfigFileError(`configuration file not found: ${file}`);
    return { ...lifelineConfigSchema.parse({}), path: null };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigFileError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = lifelineConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigFileError(`${file}: ${formatIssues(parsed.error)}`);
  return { ...parsed.data, path: file };
}

/** Names are ids within a section (`children`, `links`, `pollers`): two alike is an error naming them. */
export function assertUniqueNames(section: string, noun: string, specs: ReadonlyArray<{ name: string }>): void {
  const duplicate = specs.find((s, i) => specs.findIndex((t) => t.name === s.name) !== i);
  if (duplicate) throw new ConfigFileError(`${section}: two ${noun} are named "${duplicate.name}"`);
}
