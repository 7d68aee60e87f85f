import { z } from 'zod';
import type { TransitionRecord } from '../../bus/schemas/transitionRecord.ts';
import { BUCKETS } from '../../bus/subjects.ts';
import { encodeToken } from '../../bus/tokens.ts';
import type { Effect } from '../effects.ts';

/** One node as a link record carries it (machines/esp32Link.ts MeshNodeEntry). */
const meshNodeChangeSchema = z.object({
  num: z.number().int().nonnegative(),
  id: z.string(),
  long_name: z.string(),
  short_name: z.string(),
  hw_model: z.number().int(),
  public_key: z.string().nullable(),
  key_changed: z.boolean(),
  reported_key: z.string().nullable(),
  last_heard: z.string().nullable(),
});

/** The part of a link record's context the projector reads. */
const linkContextSchema = z.object({
  link: z.string().min(1),
  node_changes: z.array(meshNodeChangeSchema),
});

/** Bucket `mesh_nodes`, key = `token(link).<node number>`: a node a link's radio knows. */
export const meshNodeEntrySchema = meshNodeChangeSchema.extend({
  link: z.string(),
  incarnation: z.string(),
  seq: z.number().int(),
  updated_at: z.string(),
});
export type MeshNodeEntryValue = z.infer<typeof meshNodeEntrySchema>;

export function meshNodeKey(linkId: string, num: number): string {
  return `${encodeToken(linkId)}.${num}`;
}

/**
 * A link's transition record → its `mesh_nodes` entries. The record carries only the
 * nodes its transition changed (the whole database when a handshake completes, the
 * nodes whose keys a sync changed, one node on an update), each complete, so a put
 * with the version guard is all it takes; entries are never deleted (a node the radio
 * forgot keeps its key). The link's state itself is the generic `actors` entry.
 */
export function projectLinkRecord(record: TransitionRecord): { ok: true; effects: Effect[] } | { ok: false; error: string } {
  const parsed = linkContextSchema.safeParse(record.context);
  if (!parsed.success) return { ok: false, error: parsed.error.message };
  const { link, node_changes } = parsed.data;
  const version = { incarnation: record.incarnation, seq: record.seq };
  const effects: Effect[] = node_changes.map((node) => {
    const value: MeshNodeEntryValue = { ...node, link, incarnation: record.incarnation, seq: record.seq, updated_at: record.at };
    return { op: 'put', bucket: BUCKETS.meshNodes, key: meshNodeKey(link, node.num), value, version };
  });
  return { ok: true, effects };
}
