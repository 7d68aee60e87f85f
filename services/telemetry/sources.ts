import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { createRaceSim } from '../../infra/race-sim/raceSim.ts';
import { formatIssues } from '../bus/schemas/parse.ts';

/** What a source yields: the setup once, then samples. */
export type SourceItem = { type: 'setup'; setup: Record<string, unknown> } | { type: 'telemetry'; data: Record<string, unknown> };

const fileLineSchema = z.union([
  z.object({ type: z.literal('setup'), setup: z.record(z.string(), z.unknown()) }),
  z.record(z.string(), z.unknown()),
]);

export class SourceLineError extends Error {
  readonly code = 'SOURCE_LINE_INVALID';
}

/**
 * A JSON-lines file: a line `{"type":"setup","setup":{…}}` sets the setup, any other
 * object is one sample (`{"lap":3,"fuel":41.2,"position":5,"speed":212}`); blank lines are
 * skipped. `rateHz` paces the samples (0: as fast as they come).
 */
export async function* fileSource(path: string, rateHz = 0): AsyncGenerator<SourceItem> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n += 1;
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      throw new SourceLineError(`${path}:${n}: not JSON (${(err as Error).message})`);
    }
    const parsed = fileLineSchema.safeParse(json);
    if (!parsed.success) throw new SourceLineError(`${path}:${n}: ${formatIssues(parsed.error)}`);
    const value = parsed.data;
    if (value.type === 'setup' && typeof value.setup === 'object') yield { type: 'setup', setup: value.setup as Record<string, unknown> };
    else {
      if (rateHz > 0) await new Promise((r) => setTimeout(r, 1000 / rateHz));
      yield { type: 'telemetry', data: value as Record<string, unknown> };
    }
  }
}

/** The built-in race simulator at `rateHz` samples a second, `count` samples (0: forever). */
export async function* simSource(rateHz: number, count = 0, seed = 42): AsyncGenerator<SourceItem> {
  const sim = createRaceSim({ seed });
  yield { type: 'setup', setup: { ...sim.setup } };
  const dt = 1000 / rateHz;
  const start = Date.now();
  for (let i = 1; count === 0 || i <= count; i++) {
    const wait = start + i * dt - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    yield { type: 'telemetry', data: { ...sim.step(dt) } };
  }
}
