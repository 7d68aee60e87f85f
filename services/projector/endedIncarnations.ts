import { deviceEndsEntrySchema, type DeviceEndsEntry } from '../bus/schemas/leases.ts';

/** Ended incarnations remembered per actor: the most recent ones (an older one has no actor left to speak). */
export const ENDED_INCARNATIONS_KEPT = 16;

/** Whether a `device_ends` value lists `incarnation`. */
export function isEnded(value: unknown, incarnation: string): boolean {
  const parsed = deviceEndsEntrySchema.safeParse(value);
  return parsed.success && parsed.data.incarnations.includes(incarnation);
}

/**
 * The set union of what is stored and `incarnation`, sorted, keeping the greatest few:
 * commutative, associative and idempotent, so projecting and replaying agree.
 */
export function withEndedIncarnation(current: unknown, id: string, incarnation: string): DeviceEndsEntry {
  const parsed = deviceEndsEntrySchema.safeParse(current);
  const known = parsed.success ? parsed.data.incarnations : [];
  const incarnations = [...new Set([...known, incarnation])].sort().slice(-ENDED_INCARNATIONS_KEPT);
  return { device_id: id, incarnations };
}
