import { z } from 'zod';

/** Dashboard → hub frames of the session feature (the rest of /ws is wsMessages.ts). */
export const joinSessionSchema = z.object({ type: z.literal('join_session'), session_id: z.string().min(1).max(256) });
export const leaveSessionSchema = z.object({ type: z.literal('leave_session') });

/**
 * Hub → dashboard:
 * - `{"type":"session_joined","session_id","setup","telemetry","gap","publisher"}` (latest of each, or null)
 * - `{"type":"session_update","session_id","part":"setup"|"telemetry"|"gap"|"publisher","value"}`
 * - `{"type":"error","code":"SESSION_NOT_FOUND"|"SESSION_UNAVAILABLE","message","session_id"}` to that client only
 *   (a malformed join gets the hub's `INVALID_MESSAGE`)
 */
export type SessionServerFrame =
  | { type: 'session_joined'; session_id: string; setup: unknown; telemetry: unknown; gap: unknown; publisher: unknown }
  | { type: 'session_update'; session_id: string; part: string; value: unknown }
  | { type: 'error'; code: 'SESSION_NOT_FOUND' | 'SESSION_UNAVAILABLE'; message: string; session_id: string };
