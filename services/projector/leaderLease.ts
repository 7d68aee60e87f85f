import { hostname } from 'node:os';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { DEFAULT_PROJECTOR_LEASE_TTL_MS, PROJECTOR_LEADER_KEY, projectorLeaderSchema, type ProjectorLeader } from '../bus/schemas/leases.ts';
import { BUCKETS } from '../bus/subjects.ts';
import type { Logger } from '../log/logger.ts';
import { newIncarnation } from '../runtime/incarnation.ts';

export type ProjectorRole = 'active' | 'standby';

export interface LeaderLeaseOptions {
  nc: NatsConnection;
  ttlMs?: number;
  logger: Logger;
  /** Called on every change of role, in order (elected: 'active'; deposed or stopped: 'standby'). */
  onRole: (role: ProjectorRole) => void;
  /** This process in the lease; default `<host>:<pid>:<random>`. */
  holder?: string;
}

export interface LeaderLease {
  holder: string;
  role(): ProjectorRole;
  /**
   * Whether this process still holds the lease by its own clock: true until a TTL (less a
   * margin) after its last successful renewal was sent. A standby takes over only after
   * it has seen the revision stand still for a whole TTL, so the two never overlap.
   */
  holds(): boolean;
  /** Stops; a holder releases the lease (deletes it if still its own), so a standby takes over at once. */
  stop(): Promise<void>;
}

/**
 * Leader election of projectors on bucket `projector_leader`, key `leader`, by
 * compare-and-set on the entry's revision. The holder renews every quarter of the TTL;
 * a standby polls as often and takes over (update at the revision it saw) when that
 * revision has not advanced for the holder's TTL on the standby's own clock; an absent or
 * deleted key, one naming this process (its own lease lapsed, and nobody took it), or one
 * naming a process of this host that no longer exists is taken at once. No clock of
 * another host is read.
 */
export async function startLeaderLease(options: LeaderLeaseOptions): Promise<LeaderLease> {
  const ttlMs = options.ttlMs ?? DEFAULT_PROJECTOR_LEASE_TTL_MS;
  const margin = Math.floor(ttlMs / 5);
  const holder = options.holder ?? `${hostname()}:${process.pid}:${newIncarnation()}`;
  const log = options.logger;
  const kv: KV = await new Kvm(options.nc).open(BUCKETS.projectorLeader);
  let role: ProjectorRole = 'standby';
  let revision = 0;
  let validUntil = 0;
  /** As a standby: the revision last seen, and when (our clock) it was first seen. */
  let seen: { revision: number; at: number } | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const value = (now: number): string => JSON.stringify({ holder, renewed_at: new Date(now).toISOString(), ttl_ms: ttlMs } satisfies ProjectorLeader);

  function become(next: ProjectorRole, why: string): void {
    if (role === next || (stopped && next === 'active')) return;
    role = next;
    if (next === 'standby') validUntil = 0;
    log.warn({ holder, role: next, why }, next === 'active' ? 'projector leader lease taken: active' : 'projector leader lease lost: standby');
    options.onRole(next);
  }

  async function renew(): Promise<void> {
    if (Date.now() >= validUntil) {
      become('standby', 'not renewed within the TTL on this clock');
      seen = null;
      return;
    }
    const sentAt = Date.now();
    try {
      revision = await kv.update(PROJECTOR_LEADER_KEY, value(sentAt), revision);
      validUntil = sentAt + ttlMs - margin;
    } catch (err) {
      if (isConflict(err)) {
        become('standby', 'another projector holds the lease');
        seen = null;
      } else log.warn({ err: (err as Error).message }, 'leader lease renewal failed; retrying');
    }
  }

  async function watch(): Promise<void> {
    const now = Date.now();
    const entry = await kv.get(PROJECTOR_LEADER_KEY);
    let expected: number | null = null;
    if (!entry || entry.operation !== 'PUT') expected = entry?.revision ?? 0;
    else {
      if (!seen || seen.revision !== entry.revision) seen = { revision: entry.revision, at: now };
      const leader = projectorLeaderSchema.safeParse(entry.json());
      const leaderTtl = leader.success ? leader.data.ttl_ms : ttlMs;
      // still ours (we lapsed, e.g. NATS was unreachable, and nobody took it): nobody else was active
      const ours = leader.success && leader.data.holder === holder;
      if (ours || now - seen.at >= leaderTtl || (leader.success && holderIsDeadHere(leader.data.holder))) expected = entry.revision;
    }
    if (expected === null) return;
    const sentAt = Date.now();
    try {
      revision = expected === 0 ? await kv.create(PROJECTOR_LEADER_KEY, value(sentAt)) : await kv.update(PROJECTOR_LEADER_KEY, value(sentAt), expected);
      validUntil = sentAt + ttlMs - margin;
      become('active', expected === 0 ? 'no leader' : 'the leader stopped renewing');
    } catch (err) {
      if (!isConflict(err)) throw err; // another standby was faster
    }
  }

  async function step(): Promise<void> {
    try {
      if (role === 'active') await renew();
      else await watch();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'leader lease check failed; retrying');
    }
    if (!stopped) timer = setTimeout(() => void step(), Math.max(50, Math.floor(ttlMs / 4)));
  }
  await step();

  return {
    holder,
    role: () => role,
    holds: () => role === 'active' && Date.now() < validUntil,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      if (role !== 'active') return;
      become('standby', 'stopping');
      await kv.delete(PROJECTOR_LEADER_KEY, { previousSeq: revision }).catch(() => {});
    },
  };
}

/**
 * A holder on this host (`<host>:<pid>:…`) whose process is gone cannot renew: a
 * projector restarted after a crash need not wait out its TTL. Anything else (another
 * host, a live or unknown pid) waits for the TTL.
 */
function holderIsDeadHere(holder: string): boolean {
  const [host, pidText] = holder.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function isConflict(err: unknown): boolean {
  return /wrong last sequence|key exists/i.test((err as Error)?.message ?? '');
}
