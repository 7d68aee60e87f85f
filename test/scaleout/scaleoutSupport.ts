import { expect } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { PROJECTOR_LEADER_KEY, projectorLeaderSchema } from '../../services/bus/schemas/leases.ts';
import { BUCKETS } from '../../services/bus/subjects.ts';
import { dumpProjections, replayToMemory } from '../../services/projector/replay.ts';
import { consumerCaughtUp } from '../support/streams.ts';
import type { TestSystem } from '../support/testSystem.ts';
import { waitFor } from '../support/waitFor.ts';

/** Once the projector has consumed everything, the projections equal a fresh replay of the log, bucket by bucket. */
export async function expectProjectionsEqualReplay(sys: TestSystem): Promise<void> {
  await waitFor(
    async () => (await consumerCaughtUp(sys.admin.nc, 'CONN', 'projector')) && (await consumerCaughtUp(sys.admin.nc, 'COMMANDS', 'projector')),
    30_000,
    'the projector caught up on CONN and COMMANDS',
  );
  const projected = await dumpProjections(sys.admin.nc);
  const replayed = await replayToMemory(sys.admin.nc);
  for (const bucket of Object.keys(replayed)) {
    const a = projected[bucket] ?? {};
    const e = replayed[bucket] ?? {};
    const differing = [...new Set([...Object.keys(a), ...Object.keys(e)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(e[k]));
    expect(differing.slice(0, 5).map((k) => ({ key: k, projected: a[k], replayed: e[k] })), `${bucket}: ${differing.length} key(s) differ`).toEqual([]);
  }
}

/** The holder named in the projector leader lease, if any. */
export async function projectorLeader(sys: TestSystem): Promise<string | undefined> {
  const entry = await (await new Kvm(sys.admin.nc).open(BUCKETS.projectorLeader)).get(PROJECTOR_LEADER_KEY);
  if (!entry || entry.operation !== 'PUT') return undefined;
  const parsed = projectorLeaderSchema.safeParse(entry.json());
  return parsed.success ? parsed.data.holder : undefined;
}
