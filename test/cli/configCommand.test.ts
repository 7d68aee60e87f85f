import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../services/cli/main.ts';

/** `lifeline config`: checks the configuration without starting anything. */
const dir = mkdtempSync(join(tmpdir(), 'lifeline-config-command-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `lifeline <args>` in this process; what it wrote to stdout and stderr. */
async function lifeline(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { write: stdout } = process.stdout;
  const { write: stderr } = process.stderr;
  process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
}

describe('lifeline config', () => {
  it('prints the file and the env resolved, every default filled in', async () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify({ pollers: [{ name: 'backend', url: 'http://127.0.0.1:7072/rpc' }] }));
    const { code, out } = await lifeline(['config', '--config', file, '--http-port', '8088']);
    expect(code).toBe(0);
    const printed = JSON.parse(out) as { file: string; runtime: { httpPort: number }; declared: { pollers: Array<{ intervalMs: number }> } };
    expect(printed.file).toBe(file);
    expect(printed.runtime.httpPort).toBe(8088);
    expect(printed.declared.pollers[0]!.intervalMs).toBe(5_000);
  });

  it('a wrong option: exit 1 naming the field', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ links: [{ name: 'radio', silentTimeout: 5_000 }] }));
    const { code, err } = await lifeline(['config', '--config', file]);
    expect(code).toBe(1);
    expect(err).toBe(`INVALID_CONFIG: ${file}: links[0].silentTimeout: unknown option; did you mean silentTimeoutMs?\n`);
  });

  it('--schema prints the JSON Schema of the file', async () => {
    const { code, out } = await lifeline(['config', '--schema']);
    expect(code).toBe(0);
    const schema = JSON.parse(out) as { properties: Record<string, unknown>; additionalProperties: boolean };
    expect(Object.keys(schema.properties)).toEqual(['$schema', 'children', 'links', 'pollers']);
    expect(schema.additionalProperties).toBe(false);
  });
});
