import type { NatsConnection } from '@nats-io/transport-node';
import { parseJsonWith } from '../../services/bus/schemas/parse.ts';
import { recordMessageId, transitionRecordSchema, type TransitionRecord } from '../../services/bus/schemas/transitionRecord.ts';
import { encodeToken } from '../../services/bus/tokens.ts';
import { dumpProjections, replayToMemory } from '../../services/projector/replay.ts';
import { readStream } from '../support/streams.ts';
import type { ConnectionsStats } from './connectionsStats.ts';

/** What the end of a chaos run measures; each `problems` list must be empty. */

export interface RecordCheck {
  stored: number;
  /** Stream messages on conn.> that are no transition record (the NATS fuzz put them there). */
  foreign: number;
  incarnations: number;
  /** Nats-Msg-Id values stored more than once. */
  duplicateMsgIds: number;
  /** Records whose Nats-Msg-Id is missing or not `kind:id:incarnation:seq`. */
  wrongMsgIds: number;
  /** Incarnations whose stored seqs are not exactly {1, 2, …, n} (a hole or a repeat). */
  brokenIncarnations: number;
  /** Incarnations stored complete but not in seq order (a retry landed after later records). */
  outOfOrder: number;
  /** Where the order breaks, for the first few (`kind:id:incarnation @i: …seqs…`). */
  outOfOrderExamples: string[];
  /** Records missing inside an incarnation (holes between stored seqs). */
  holes: number;
  gapRecords: number;
  /** Per producing service we can count: produced (outbox) vs stored (CONN). */
  producedVsStored: Array<{ producer: string; produced: number; stored: number }>;
  problems: string[];
}

export interface StoredRecords {
  records: Array<{ seq: number; msgId: string | undefined; record: TransitionRecord }>;
  foreign: number;
}

export async function readAllRecords(nc: NatsConnection): Promise<StoredRecords> {
  const messages = await readStream(nc, 'CONN');
  const records: StoredRecords['records'] = [];
  let foreign = 0;
  for (const m of messages) {
    const parsed = parseJsonWith(transitionRecordSchema, 'record', m.data);
    if (parsed.ok) records.push({ seq: m.seq, msgId: m.msgId, record: parsed.value });
    else foreign += 1;
  }
  return { records, foreign };
}

export function checkRecords(
  stored: StoredRecords,
  produced: Array<{ producer: string; kinds: string[]; produced: number }>,
): RecordCheck {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  let wrongMsgIds = 0;
  for (const { msgId, record } of stored.records) {
    if (msgId) seen.set(msgId, (seen.get(msgId) ?? 0) + 1);
    if (msgId !== recordMessageId(record)) wrongMsgIds += 1;
  }
  const duplicateMsgIds = [...seen.values()].filter((n) => n > 1).length;
  const byIncarnation = new Map<string, number[]>();
  for (const { record } of stored.records) {
    const key = `${record.kind}:${record.id}:${record.incarnation}`;
    let seqs = byIncarnation.get(key);
    if (!seqs) byIncarnation.set(key, (seqs = []));
    seqs.push(record.seq);
  }
  let broken = 0;
  let holes = 0;
  let outOfOrder = 0;
  const outOfOrderExamples: string[] = [];
  for (const [key, seqs] of byIncarnation) {
    const sorted = [...seqs].sort((a, b) => a - b);
    if (!sorted.every((s, i) => s === i + 1)) {
      broken += 1;
      holes += Math.max(0, sorted.at(-1)! - new Set(seqs).size);
      if (broken <= 5) problems.push(`${key}: stored seqs ${sorted.slice(0, 20).join(',')}${sorted.length > 20 ? '…' : ''} are not 1..n`);
    } else if (!seqs.every((s, i) => s === i + 1)) {
      outOfOrder += 1;
      const at = seqs.findIndex((s, i) => s !== i + 1);
      if (outOfOrderExamples.length < 5) outOfOrderExamples.push(`${key} stream order from #${at + 1}: ${seqs.slice(Math.max(0, at - 2), at + 8).join(',')}`);
    }
  }
  const gapRecords = stored.records.filter((r) => r.record.event === 'outbox.gap').length;
  if (duplicateMsgIds > 0) problems.push(`${duplicateMsgIds} Nats-Msg-Id value(s) stored more than once`);
  if (wrongMsgIds > 0) problems.push(`${wrongMsgIds} record(s) without their kind:id:incarnation:seq Nats-Msg-Id`);
  if (gapRecords > 0) problems.push(`${gapRecords} outbox gap record(s): records were dropped`);
  const producedVsStored = produced.map((p) => ({
    producer: p.producer,
    produced: p.produced,
    stored: stored.records.filter((r) => p.kinds.includes(r.record.kind)).length,
  }));
  for (const p of producedVsStored) if (p.produced !== p.stored) problems.push(`${p.producer}: ${p.produced} records produced, ${p.stored} stored`);
  return {
    stored: stored.records.length,
    foreign: stored.foreign,
    incarnations: byIncarnation.size,
    duplicateMsgIds,
    wrongMsgIds,
    brokenIncarnations: broken,
    outOfOrder,
    outOfOrderExamples,
    holes,
    gapRecords,
    producedVsStored,
    problems,
  };
}

/** Records produced by the connections host's outboxes (it was never killed, so it can count them all). */
export function producedByConnections(stats: ConnectionsStats): Array<{ producer: string; kinds: string[]; produced: number }> {
  const kindsOf: Record<string, string[]> = { 'child-supervisor': ['child'], 'esp32-link': ['link'], 'rpc-poller': ['rpc'], 'telemetry-publisher': ['telemetry'] };
  return Object.entries(stats.outboxes)
    .filter(([service]) => service in kindsOf)
    .map(([service, o]) => ({ producer: service, kinds: kindsOf[service]!, produced: o.published + o.queued + o.inFlight + o.dropped }));
}

/** The hub's own outbox (its `client` actors) from /metrics. */
export async function producedByHub(httpUrl: string): Promise<{ producer: string; kinds: string[]; produced: number }> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name}\\{service="hub"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  const produced = ['lifeline_outbox_published', 'lifeline_outbox_queued', 'lifeline_outbox_in_flight', 'lifeline_outbox_dropped'].reduce((sum, n) => sum + value(n), 0);
  return { producer: 'hub', kinds: ['client'], produced };
}

export interface FlowCheck {
  flows: number;
  nonTerminal: number;
  accepted: number;
  /** Accepted commands (202) whose flow is missing or not terminal. */
  acceptedUnfinished: number;
  byStatus: Record<string, number>;
  /** Failed flows by their error code. */
  failedByCode: Record<string, number>;
  problems: string[];
}

export function checkFlows(flows: Record<string, unknown>, accepted: Map<string, string>): FlowCheck {
  const problems: string[] = [];
  const byStatus: Record<string, number> = {};
  const failedByCode: Record<string, number> = {};
  const byNode = new Map<string, { status?: string; command_id?: string }>();
  for (const [key, value] of Object.entries(flows)) {
    const flow = value as { status?: string; command_id?: string; node_id?: string; error?: { code?: string } };
    byStatus[flow.status ?? '?'] = (byStatus[flow.status ?? '?'] ?? 0) + 1;
    if (flow.status === 'failed') failedByCode[flow.error?.code ?? '?'] = (failedByCode[flow.error?.code ?? '?'] ?? 0) + 1;
    byNode.set(flow.node_id ?? key, flow);
  }
  const terminal = (s: string | undefined): boolean => s === 'completed' || s === 'failed';
  const nonTerminal = Object.values(flows).filter((f) => !terminal((f as { status?: string }).status));
  let acceptedUnfinished = 0;
  for (const [commandId, node] of accepted) {
    const flow = byNode.get(node) ?? (flows[encodeToken(node)] as { status?: string; command_id?: string } | undefined);
    if (!flow || flow.command_id !== commandId || !terminal(flow.status)) {
      acceptedUnfinished += 1;
      if (acceptedUnfinished <= 5) problems.push(`command ${commandId} (node ${node}): flow ${flow ? `${flow.status} of ${flow.command_id}` : 'missing'}`);
    }
  }
  if (nonTerminal.length > 0) problems.push(`${nonTerminal.length} flow(s) not terminal: ${JSON.stringify(nonTerminal.slice(0, 3))}`);
  return { flows: Object.keys(flows).length, nonTerminal: nonTerminal.length, accepted: accepted.size, acceptedUnfinished, byStatus, failedByCode, problems };
}

export interface ProjectionCheck {
  buckets: Array<{ bucket: string; projected: number; replayed: number; differing: number }>;
  problems: string[];
}

export async function checkProjections(nc: NatsConnection): Promise<ProjectionCheck> {
  const projected = await dumpProjections(nc);
  const replayed = await replayToMemory(nc);
  const problems: string[] = [];
  const buckets = [...new Set([...Object.keys(projected), ...Object.keys(replayed)])].sort().map((bucket) => {
    const a = projected[bucket] ?? {};
    const e = replayed[bucket] ?? {};
    const differing = [...new Set([...Object.keys(a), ...Object.keys(e)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(e[k]));
    for (const k of differing.slice(0, 3)) problems.push(`${bucket}/${k}: projected ${JSON.stringify(a[k])?.slice(0, 300)} vs replayed ${JSON.stringify(e[k])?.slice(0, 300)}`);
    return { bucket, projected: Object.keys(a).length, replayed: Object.keys(e).length, differing: differing.length };
  });
  return { buckets, problems };
}

/** Telemetry samples the publisher had acknowledged vs the session's data messages in TELEMETRY. */
export async function checkTelemetry(nc: NatsConnection, stats: ConnectionsStats): Promise<{ published: number; stored: number; duplicates: number; dropped: number; problems: string[] }> {
  const session = stats.telemetry.sessionId;
  const messages = await readStream(nc, 'TELEMETRY', `telemetry.${encodeToken(session)}.data`);
  const ids = new Map<string, number>();
  for (const m of messages) if (m.msgId) ids.set(m.msgId, (ids.get(m.msgId) ?? 0) + 1);
  const duplicates = [...ids.values()].filter((n) => n > 1).length;
  const stored = messages.filter((m) => {
    try {
      return (JSON.parse(new TextDecoder().decode(m.data)) as { session_id?: unknown }).session_id === session;
    } catch {
      return false;
    }
  }).length;
  const problems: string[] = [];
  if (stored !== stats.telemetry.published) problems.push(`telemetry: ${stats.telemetry.published} samples acknowledged to the publisher, ${stored} stored`);
  if (duplicates > 0) problems.push(`telemetry: ${duplicates} sample id(s) stored twice`);
  if (stats.telemetry.dropped > 0) problems.push(`telemetry: ${stats.telemetry.dropped} sample(s) dropped by the publisher's buffer`);
  return { published: stats.telemetry.published, stored, duplicates, dropped: stats.telemetry.dropped, problems };
}
