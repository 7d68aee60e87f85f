import { z } from 'zod';

/**
 * Bucket `gateway_leases`, key = the gateway's name: renewed by that gateway every third
 * of `ttl_ms` with compare-and-set. Readers judge liveness by whether the entry's
 * revision advances within `ttl_ms` on their own clock; `renewed_at` (the writer's
 * clock) is informative only. The projector that declares the lease expired writes it
 * back with `expired_by` (compare-and-set on the revision it saw stand still): the
 * gateway's next renewal then fails, and it fences itself.
 */
export const gatewayLeaseSchema = z.object({
  gateway: z.string().min(1),
  /** A fresh id per lease incarnation: each start of the gateway, and after it fenced itself. */
  incarnation: z.string().min(1),
  renewed_at: z.string(),
  ttl_ms: z.number().int().positive(),
  /** Set by the projector that found the lease expired (its holder id). */
  expired_by: z.string().optional(),
});
export type GatewayLease = z.infer<typeof gatewayLeaseSchema>;

/** Bucket `projector_leader`, key `leader`: the active projector, renewed with compare-and-set. */
export const projectorLeaderSchema = z.object({
  holder: z.string().min(1),
  renewed_at: z.string(),
  ttl_ms: z.number().int().positive(),
});
export type ProjectorLeader = z.infer<typeof projectorLeaderSchema>;

export const PROJECTOR_LEADER_KEY = 'leader';

/** Bucket `device_ends`, key = token(device_id): incarnations ended by an end record (a projection). */
export const deviceEndsEntrySchema = z.object({
  device_id: z.string(),
  /** Sorted, the most recent few only. */
  incarnations: z.array(z.string()),
});
export type DeviceEndsEntry = z.infer<typeof deviceEndsEntrySchema>;

/** The projector's heartbeat (`broadcast.heartbeat.projector`); beats without a role come from an active projector. */
export const projectorHeartbeatSchema = z.object({
  role: z.enum(['active', 'standby']).optional(),
  /** A standby's holder id (as it would appear in the leader lease). */
  holder: z.string().optional(),
});

export const DEFAULT_GATEWAY_LEASE_TTL_MS = 10_000;
/**
 * Longer than a JetStream stream-leader election after a cluster node dies (4.4–6.6 s
 * measured, docs/cluster.md), so a node's death does not depose a healthy projector.
 */
export const DEFAULT_PROJECTOR_LEASE_TTL_MS = 15_000;

/**
 * Lease timings from the environment (ms): LIFELINE_GATEWAY_LEASE_TTL_MS (default 10 s)
 * and LIFELINE_PROJECTOR_LEASE_TTL_MS (default 15 s). See docs/scale-out.md.
 */
export const leaseSettingsSchema = z.object({
  gatewayLeaseTtlMs: z.coerce.number().int().min(300).default(DEFAULT_GATEWAY_LEASE_TTL_MS),
  projectorLeaseTtlMs: z.coerce.number().int().min(300).default(DEFAULT_PROJECTOR_LEASE_TTL_MS),
});
export type LeaseSettings = z.infer<typeof leaseSettingsSchema>;

export class LeaseSettingsError extends Error {
  readonly code = 'INVALID_CONFIG';
}

export function leaseSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): LeaseSettings {
  const parsed = leaseSettingsSchema.safeParse({
    gatewayLeaseTtlMs: env.LIFELINE_GATEWAY_LEASE_TTL_MS || undefined,
    projectorLeaseTtlMs: env.LIFELINE_PROJECTOR_LEASE_TTL_MS || undefined,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path[0] === 'gatewayLeaseTtlMs' ? 'LIFELINE_GATEWAY_LEASE_TTL_MS' : 'LIFELINE_PROJECTOR_LEASE_TTL_MS';
    throw new LeaseSettingsError(`invalid configuration: ${name}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
