import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { childSpecSchema } from '../child-supervisor/childSpec.ts';
import { linkSpecSchema } from '../esp32-link/linkSpec.ts';
import { pollerSpecSchema } from '../rpc-poller/pollerSpec.ts';
import { formatConfigIssues } from './configIssues.ts';
import { knownKeysAt } from './configOptions.ts';

/**
 * lifeline.config.json: the connections a site declares beyond devices. Every section is
 * optional; a wrong option is an error naming the field.
 */
export const lifelineConfigSchema = z
  .strictObject({
    /** Ignored: lets an editor find a JSON Schema for the file. */
    $schema: z.string().optional(),
    children: z.array(childSpecSchema).default([]),
    links: z.array(linkSpecSchema).default([]),
    pollers: z.array(pollerSpecSchema).default([]),
  })
  .superRefine((config, ctx) => {
    // a name is the actor's id within its section: two alike would be one actor
    for (const section of ['children', 'links', 'pollers'] as const) {
      const first = new Map<string, number>();
      config[section].forEach((spec, i) => {
        const earlier = first.get(spec.name);
        if (earlier === undefined) first.set(spec.name, i);
        else ctx.addIssue({ code: 'custom', path: [section, i, 'name'], message: `"${spec.name}" is already the name of ${section}[${earlier}]` });
      });
    }
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
  return { ...parseLifelineConfig(raw, file), path: file };
}

/** Validates a configuration (the file's parsed JSON); `where` starts the error message. */
export function parseLifelineConfig(raw: unknown, where = 'configuration'): LifelineConfig {
  const parsed = lifelineConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const lines = formatConfigIssues(parsed.error, { knownKeys: (path) => knownKeysAt(lifelineConfigSchema, path) });
  throw new ConfigFileError(lines.length === 1 ? `${where}: ${lines[0]}` : `${where}:\n  ${lines.join('\n  ')}`);
}

/** Names are ids within a section (`children`, `links`, `pollers`): two alike is an error naming them. */
export function assertUniqueNames(section: string, noun: string, specs: ReadonlyArray<{ name: string }>): void {
  const duplicate = specs.find((s, i) => specs.findIndex((t) => t.name === s.name) !== i);
  if (duplicate) throw new ConfigFileError(`${section}: two ${noun} are named "${duplicate.name}"`);
}
