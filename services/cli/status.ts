import { Kvm } from '@nats-io/kv';
import { actorEntrySchema, type ActorEntry } from '../bus/schemas/projections.ts';
import { BUCKETS } from '../bus/subjects.ts';
import type { RuntimeConfig } from './config.ts';
import { connectAs, resolveNatsEndpoint } from './natsEndpoint.ts';

/** `lifeline status`: every actor's state from the `actors` projection. */
export async function runStatus(config: RuntimeConfig, json: boolean): Promise<number> {
  const endpoint = await resolveNatsEndpoint(config);
  const bus = await connectAs(endpoint, 'watcher', 'lifeline-status', 10_000);
  try {
    const kv = await new Kvm(bus.nc).open(BUCKETS.actors);
    const actors: ActorEntry[] = [];
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      const parsed = entry?.operation === 'PUT' ? actorEntrySchema.safeParse(entry.json()) : undefined;
      if (parsed?.success) actors.push(parsed.data);
    }
    actors.sort((a, b) => a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
    if (json) process.stdout.write(`${JSON.stringify(actors, null, 2)}\n`);
    else if (actors.length === 0) process.stdout.write('no actors recorded yet\n');
    else {
      for (const a of actors) {
        const error = a.error ? `  ${a.error.code}: ${a.error.message}` : '';
        process.stdout.write(`${a.kind.padEnd(9)} ${a.id.padEnd(32)} ${a.state.padEnd(20)} since ${a.since}${error}\n`);
      }
    }
    return 0;
  } finally {
    await bus.close();
  }
}
