import { z } from 'zod';

/** What the connections host (connectionsHost.ts, a separate process) prints, parsed by the harness. */

export const CONNECTIONS_READY = 'connections running';
export const CONNECTIONS_STATS = 'connections-stats ';

/** What the host prints at its end. */
export const connectionsStatsSchema = z.object({
  /** Per recording connection (service label): records handed to the outbox and where they are. */
  outboxes: z.record(z.string(), z.object({ published: z.number(), queued: z.number(), inFlight: z.number(), dropped: z.number(), gapRecords: z.number() })),
  telemetry: z.object({ sessionId: z.string(), published: z.number(), dropped: z.number(), buffered: z.number() }),
});
export type ConnectionsStats = z.infer<typeof connectionsStatsSchema>;

