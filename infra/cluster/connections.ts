import { z } from 'zod';

const REQUEST_TIMEOUT_MS = 1_000;

/** The parts of nats-server 2.9's `/connz` read here. */
const connzSchema = z.object({
  connections: z
    .array(z.object({ cid: z.number().int(), name: z.string().optional() }))
    .nullish()
    .transform((c) => c ?? []),
});

/**
 * The names of the client connections a node holds now (`/connz`; a connection is named
 * by its `name` connect option, e.g. `lifeline-gateway-gateway-1`, `lifeline-projector`).
 * A node that does not answer holds none.
 */
export async function connectionNamesOn(monitorUrl: string): Promise<string[]> {
  try {
    const res = await fetch(`${monitorUrl}/connz?limit=4096`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (res.status !== 200) return [];
    const connz = connzSchema.parse(await res.json());
    return connz.connections.flatMap((c) => (c.name ? [c.name] : []));
  } catch {
    return [];
  }
}

/** Which of `nodes` hold a connection named `name` (usually one; none while it reconnects). */
export async function nodesHoldingConnection<N extends { monitorUrl: string; running: boolean }>(
  nodes: readonly N[],
  name: string,
): Promise<N[]> {
  const held = await Promise.all(
    nodes.map(async (n) => (n.running && (await connectionNamesOn(n.monitorUrl)).includes(name) ? [n] : [])),
  );
  return held.flat();
}
