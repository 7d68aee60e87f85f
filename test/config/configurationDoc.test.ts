import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { childSpecSchema } from '../../services/child-supervisor/childSpec.ts';
import { RUNTIME_OPTION_SOURCES, runtimeConfigSchema } from '../../services/cli/config.ts';
import { loadDemoConfig } from '../../services/cli/demo/demoConfig.ts';
import { DEFAULT_INSPECT_PORT } from '../../services/cli/inspector.ts';
import { optionsOf, type ConfigOption } from '../../services/config/configOptions.ts';
import { lifelineConfigSchema, loadLifelineConfig, parseLifelineConfig } from '../../services/config/lifelineConfig.ts';
import { linkSpecSchema } from '../../services/esp32-link/linkSpec.ts';
import { pollerSpecSchema } from '../../services/rpc-poller/pollerSpec.ts';

/**
 * docs/configuration.md cannot drift from the code: every option of every zod schema of
 * the configuration (the file's sections and the env vars) has a row there with its exact
 * type and default, no row names an option that is gone, and every env var the sources
 * read is documented. A failure prints the rows to paste.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');

/** The table rows under the heading whose text is `title` (up to the next heading). */
function tableUnder(title: string): string[][] {
  const lines = DOC.split('\n');
  const start = lines.findIndex((l) => /^#{2,4} /.test(l) && l.replace(/^#+ /, '').trim() === title);
  if (start < 0) throw new Error(`docs/configuration.md has no heading "${title}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,4} /.test(line)) break;
    if (!line.startsWith('|') || /^\|\s*-/.test(line)) continue;
    rows.push(line.slice(1, -1).split(' | ').map((c) => c.trim()));
  }
  return rows.slice(1); // the header
}

const unquote = (cell: string): string => cell.replace(/^`(.*)`$/, '$1');
const defaultCell = (d: string): string => (d === 'required' || d === '—' ? d : `\`${d}\``);

const SECTIONS: Array<[title: string, schema: z.ZodType]> = [
  ['Top level', lifelineConfigSchema],
  ['`children[]`', childSpecSchema],
  ['`links[]`', linkSpecSchema],
  ['`pollers[]`', pollerSpecSchema],
];

describe('docs/configuration.md documents every option of the configuration file', () => {
  for (const [title, schema] of SECTIONS) {
    it(`${title}: every option, its type and default, and nothing else`, () => {
      const documented = new Map(tableUnder(title).map((cells) => [unquote(cells[0]!), cells]));
      const options = optionsOf(schema);
      const expectedRow = (o: ConfigOption): string => `| \`${o.name}\` | ${o.type} | ${defaultCell(o.default)} | … |`;
      const wrong = options.filter((o) => {
        const cells = documented.get(o.name);
        return !cells || cells[1] !== o.type || cells[2] !== defaultCell(o.default) || !cells[3];
      });
      expect(wrong.map(expectedRow), `rows missing or wrong under "${title}" (expected these)`).toEqual([]);
      const stale = [...documented.keys()].filter((name) => !options.some((o) => o.name === name));
      expect(stale, `rows under "${title}" naming no option`).toEqual([]);
    });
  }

  it('the example parses', () => {
    const example = /## An example\n+```json\n([\s\S]*?)\n```/.exec(DOC)?.[1];
    expect(example).toBeDefined();
    const config = parseLifelineConfig(JSON.parse(example!), 'docs/configuration.md example');
    expect(config.children.length + config.links.length + config.pollers.length).toBe(3);
  });

  it('infra/demo.config.json is a valid configuration', () => {
    const demo = loadLifelineConfig(join(ROOT, 'infra/demo.config.json'));
    expect(demo.children.map((c) => c.name)).toEqual(['flask']);
  });
});

describe('docs/configuration.md documents every env var', () => {
  it('each runtime option: env var, flag, type and default', () => {
    const documented = new Map(tableUnder('Environment variables and flags').map((cells) => [unquote(cells[0]!), cells]));
    const sources = RUNTIME_OPTION_SOURCES as Record<string, { env: string; flag?: string }>;
    const options = optionsOf(runtimeConfigSchema, 'output');
    const expectedRow = (o: ConfigOption): string => {
      const { env, flag } = sources[o.name]!;
      return `| \`${env}\` | ${flag ? `\`${flag}\`` : '—'} | ${o.type} | ${defaultCell(o.default)} | … |`;
    };
    expect(Object.keys(sources).sort()).toEqual(options.map((o) => o.name).sort());
    const wrong = options.filter((o) => {
      const { env, flag } = sources[o.name]!;
      const cells = documented.get(env);
      return !cells || cells[1] !== (flag ? `\`${flag}\`` : '—') || cells[2] !== o.type || cells[3] !== defaultCell(o.default) || !cells[4];
    });
    expect(wrong.map(expectedRow), 'env rows missing or wrong (expected these)').toEqual([]);
    const known = new Set(Object.values(sources).map((s) => s.env));
    expect([...documented.keys()].filter((env) => !known.has(env)), 'env rows naming no option').toEqual([]);
  });

  it('the other env vars, with the defaults the code uses', () => {
    const other = new Map(tableUnder('Other environment variables').map((cells) => [unquote(cells[0]!), cells]));
    const ports = loadDemoConfig({}).ports;
    expect(other.get('LIFELINE_INSPECT_PORT')?.[2]).toBe(`\`${DEFAULT_INSPECT_PORT}\``);
    expect(other.get('LIFELINE_DEMO_FLASK_PORT')?.[2]).toBe(`\`${ports.flask}\``);
    expect(other.get('LIFELINE_DEMO_RPC_PORT')?.[2]).toBe(`\`${ports.rpc}\``);
    expect(other.get('LIFELINE_DEMO_RADIO_PORT')?.[2]).toBe(`\`${ports.radio}\``);
  });

  it('every env var the sources read is in the doc', () => {
    const sourceFiles = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path);
        return /\.(ts|js)$/.test(name) ? [path] : [];
      });
    const read = new Set<string>();
    for (const file of ['services', 'infra', 'bin', 'machines'].flatMap((d) => sourceFiles(join(ROOT, d)))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/\b(LIFELINE_[A-Z0-9_]+|NATS_URL)\b/g)) read.add(match[1]!);
    }
    expect(read.size).toBeGreaterThan(10);
    expect([...read].filter((name) => !DOC.includes(`\`${name}`)).sort(), 'env vars read by the code but not in docs/configuration.md').toEqual([]);
  });
});
