import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { childEntrySchema, type ChildEntry } from '../../bus/schemas/children.ts';
import { BUCKETS } from '../../bus/subjects.ts';
import type { Logger } from '../../log/logger.ts';
import { meshNodeEntrySchema, type MeshNodeEntryValue } from '../../projector/reducers/linkRecord.ts';
import { mirrorBucket, type BucketMirror } from '../bucketMirror.ts';
import { childStatus } from '../routes/children.ts';
import type { ClientHub } from './clientHub.ts';

/**
 * The dashboard's panels beyond the projection topics of wsMessages.ts: three more
 * topics, each `{"type":<topic>,"key","value"}` in the same shape as its REST list
 * (routes/dashboardLists.ts), so a panel loads the list once and then follows the topic.
 * - `child`: a supervised child's status (GET /api/children's element), key = its name
 * - `mesh_node`: a node an ESP32 link's radio knows, with its key status (GET /api/mesh-nodes)
 * - `telemetry_session`: one telemetry session's summary (GET /api/sessions), key = its id
 * Changes are coalesced per key (at most one frame per key every `coalesceMs`, the latest
 * value): a telemetry session's sample rate does not become the dashboards' frame rate.
 */
export const DASHBOARD_TOPICS = ['child', 'mesh_node', 'telemetry_session'] as const;

/** An entry of bucket `sessions` (key `<token(session)>.<part>`): every part names its session. */
const sessionPartSchema = z.looseObject({ session_id: z.string() });
type SessionPart = z.infer<typeof sessionPartSchema>;

export interface SessionSummary {
  session_id: string;
  /** The publisher's link: state, connections, attempt, updated_at, error? (null: no publisher record yet). */
  publisher: Record<string, unknown> | null;
  setup: Record<string, unknown> | null;
  /** The latest sample as the projector accepted it. */
  telemetry: Record<string, unknown> | null;
  /** The latest gap report (samples the publisher dropped). */
  gap: Record<string, unknown> | null;
}

export interface MeshNodeView {
  link: string;
  num: number;
  id: string;
  long_name: string;
  short_name: string;
  /** `ok`: a key is known; `missing`: none yet; `changed`: the radio reported a different key (not accepted). */
  key_status: 'ok' | 'missing' | 'changed';
  public_key: string | null;
  reported_key: string | null;
  last_heard: string | null;
  updated_at: string;
}

export function meshNodeView(n: MeshNodeEntryValue): MeshNodeView {
  return {
    link: n.link,
    num: n.num,
    id: n.id,
    long_name: n.long_name,
    short_name: n.short_name,
    key_status: n.key_changed ? 'changed' : n.public_key ? 'ok' : 'missing',
    public_key: n.public_key,
    reported_key: n.reported_key,
    last_heard: n.last_heard,
    updated_at: n.updated_at,
  };
}

export interface DashboardFeeds {
  children: BucketMirror<ChildEntry>;
  meshNodes: BucketMirror<MeshNodeEntryValue>;
  sessions: BucketMirror<SessionPart>;
  /** Every session's summary, from the `sessions` mirror. */
  sessionSummaries(): SessionSummary[];
  stop(): void;
}

/** Groups the `sessions` parts of one mirror into one summary per session. */
function summarize(sessions: BucketMirror<SessionPart>, only?: string): SessionSummary[] {
  const out = new Map<string, SessionSummary>();
  for (const part of sessions.values()) {
    if (only !== undefined && part.session_id !== only) continue;
    let s = out.get(part.session_id);
    if (!s) out.set(part.session_id, (s = { session_id: part.session_id, publisher: null, setup: null, telemetry: null, gap: null }));
    // which part it is (services/projector/reducers/telemetry*.ts): the projector marks every
    // sample with `missing`; a setup holds `setup`, a gap `dropped_total`, the publisher `connections`
    const kind = 'missing' in part ? 'telemetry' : 'setup' in part ? 'setup' : 'dropped_total' in part ? 'gap' : 'connections' in part ? 'publisher' : undefined;
    if (kind === 'setup') s.setup = (part.setup as Record<string, unknown>) ?? null;
    else if (kind) s[kind] = part;
  }
  return [...out.values()].sort((a, b) => a.session_id.localeCompare(b.session_id));
}

/** Mirrors `children`, `mesh_nodes` and `sessions` and forwards their changes on the DASHBOARD_TOPICS. */
export function startDashboardFeeds(nc: NatsConnection, clients: ClientHub, log: Logger, coalesceMs = 250): DashboardFeeds {
  clients.addTopics(DASHBOARD_TOPICS);
  const pending = new Map<string, { topic: string; key: string; value: () => unknown }>();
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    const due = [...pending.values()];
    pending.clear();
    for (const f of due) clients.broadcastFrame(f.topic, JSON.stringify({ type: f.topic, key: f.key, value: f.value() }));
  };
  const queue = (topic: string, key: string, value: () => unknown): void => {
    pending.set(`${topic}\u0000${key}`, { topic, key, value });
    timer ??= setTimeout(flush, coalesceMs);
  };

  const children = mirrorBucket(nc, BUCKETS.children, (v) => childEntrySchema.safeParse(v).data, log, (_key, entry) => {
    if (entry) queue('child', entry.name, () => childStatus(entry));
  });
  const meshNodes = mirrorBucket(nc, BUCKETS.meshNodes, (v) => meshNodeEntrySchema.safeParse(v).data, log, (key, node) => {
    if (node) queue('mesh_node', key, () => meshNodeView(node));
  });
  const sessions: BucketMirror<SessionPart> = mirrorBucket(nc, BUCKETS.sessions, (v) => sessionPartSchema.safeParse(v).data, log, (_key, part) => {
    if (part) queue('telemetry_session', part.session_id, () => summarize(sessions, part.session_id)[0] ?? null);
  });

  return {
    children,
    meshNodes,
    sessions,
    sessionSummaries: () => summarize(sessions),
    stop() {
      if (timer) clearTimeout(timer);
      [children, meshNodes, sessions].forEach((m) => m.stop());
    },
  };
}
