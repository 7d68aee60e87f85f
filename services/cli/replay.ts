import { replayProjections } from '../projector/replay.ts';
import type { RuntimeConfig } from './config.ts';
import { connectAs, resolveNatsEndpoint } from './natsEndpoint.ts';

/** `lifeline replay`: wipes the projections and rebuilds them from the log. */
export async function runReplay(config: RuntimeConfig): Promise<number> {
  const endpoint = await resolveNatsEndpoint(config);
  const bus = await connectAs(endpoint, 'admin', 'lifeline-replay', 10_000);
  try {
    const { messages } = await replayProjections(bus.nc, {
      onProgress: (p) => process.stdout.write(`  ${p.stream}: ${p.done}/${p.total}\n`),
    });
    process.stdout.write(`replayed ${messages} message(s): projections rebuilt\n`);
    return 0;
  } finally {
    await bus.close();
  }
}
