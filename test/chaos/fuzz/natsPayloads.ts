import fc from 'fast-check';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeToken } from '../../../services/bus/tokens.ts';
import { subjects } from '../../../services/bus/subjects.ts';
import { badUtf8, draw, notJson, wrongShape } from './arbitraries.ts';
import { count, preview, type FuzzTally } from './tally.ts';

/**
 * Malformed NATS payloads, each published by a user allowed to publish there:
 *  - requests (a typed answer is due): `cmd.device.<token>` (admin; the hub answers
 *    `{"status","body":{"error":{"code"}}}`), `cmd.child.<token>` (hub user; the child
 *    supervisor answers the same shape), `link.<token>.ping` (admin; the link answers any body);
 *  - messages consumed from streams or subscriptions (no answer is due; the consumers are
 *    checked alive afterwards, and the projector's `broadcast.error.telemetry` is counted):
 *    `conn.device.<token>.failed` (gateway user), `commands.device.<token>` (hub user),
 *    `telemetry.<session>.data|setup` (telemetry user), `broadcast.flow` (admin).
 */

export interface NatsFuzzConnections {
  admin: NatsConnection;
  hub: NatsConnection;
  gateway: NatsConnection;
  telemetry: NatsConnection;
}

export type NatsTarget = 'cmd.device' | 'cmd.child' | 'link.ping' | 'conn.device' | 'commands.device' | 'telemetry' | 'broadcast';
const TARGETS: NatsTarget[] = ['cmd.device', 'cmd.child', 'link.ping', 'conn.device', 'commands.device', 'telemetry', 'broadcast'];

const payloadArb = fc.oneof(
  notJson.map((s) => new TextEncoder().encode(s)),
  wrongShape.map((s) => new TextEncoder().encode(s)),
  badUtf8.map((b) => new Uint8Array(b)),
  fc.uint8Array({ maxLength: 64 }),
  fc.record({ node_id: fc.oneof(fc.integer(), fc.constant('')), command: fc.oneof(fc.integer(), fc.constant('')) }).map((v) => new TextEncoder().encode(JSON.stringify(v))),
  fc.record({ v: fc.integer(), kind: fc.string({ maxLength: 8 }), seq: fc.string({ maxLength: 4 }) }).map((v) => new TextEncoder().encode(JSON.stringify(v))),
  fc.record({ action: fc.oneof(fc.integer(), fc.string({ maxLength: 8 }).filter((a) => a !== 'start' && a !== 'stop')) }).map((v) => new TextEncoder().encode(JSON.stringify(v))),
);

interface Counters {
  /** Messages put on stream subjects (they stay in the log: the record checks skip them). */
  connGarbage: number;
  commandGarbage: number;
  telemetryGarbage: number;
}

function typedReply(data: Uint8Array): boolean {
  try {
    const reply = JSON.parse(new TextDecoder().decode(data)) as { status?: unknown; body?: { error?: { code?: unknown } } };
    return typeof reply.status === 'number' && reply.status >= 400 && typeof reply.body?.error?.code === 'string';
  } catch {
    return false;
  }
}

function linkAnswered(data: Uint8Array): boolean {
  try {
    const reply = JSON.parse(new TextDecoder().decode(data)) as { ok?: unknown; link?: unknown };
    return typeof reply.ok === 'boolean' && reply.link === 'radio';
  } catch {
    return false;
  }
}

export async function fuzzNats(
  nc: NatsFuzzConnections,
  ids: { deviceIds: string[]; child: string; link: string; session: string },
  seed: number,
  n: number,
  tally: FuzzTally,
  counters: Counters,
): Promise<void> {
  const cases = draw(fc.tuple(fc.constantFrom(...TARGETS), payloadArb, fc.string({ minLength: 1, maxLength: 12 })), seed, n);
  for (const [target, payload, name] of cases) {
    const what = (): string => `${target} (${preview(name)}) ${preview(payload)}`;
    try {
      switch (target) {
        case 'cmd.device': {
          const device = ids.deviceIds.length > 0 && name.length % 2 === 0 ? ids.deviceIds[name.length % ids.deviceIds.length]! : `fuzz:${name}`;
          const reply = await nc.admin.request(subjects.commandRequest(device), payload, { timeout: 5_000 });
          if (typedReply(reply.data)) count(tally, 'typed');
          else count(tally, 'untyped', () => `${what()} → ${preview(reply.data)}`);
          break;
        }
        case 'cmd.child': {
          if (name.length % 2 === 0) {
            const reply = await nc.hub.request(subjects.childCommand(ids.child), payload, { timeout: 5_000 });
            if (typedReply(reply.data)) count(tally, 'typed');
            else count(tally, 'untyped', () => `${what()} → ${preview(reply.data)}`);
          } else {
            // a name no supervisor here has gets no answer by design (another supervisor may own it)
            const answered = await nc.hub.request(subjects.childCommand(`fuzz-${name}`), payload, { timeout: 500 }).then(
              (reply) => reply,
              () => null,
            );
            if (answered === null) count(tally, 'absorbed');
            else if (typedReply(answered.data)) count(tally, 'typed');
            else count(tally, 'untyped', () => `${what()} (unknown child) → ${preview(answered.data)}`);
          }
          break;
        }
        case 'link.ping': {
          const reply = await nc.admin.request(subjects.linkPing(ids.link), payload, { timeout: 5_000 });
          if (linkAnswered(reply.data)) count(tally, 'accepted');
          else count(tally, 'untyped', () => `${what()} → ${preview(reply.data)}`);
          break;
        }
        case 'conn.device': {
          // through JetStream, so the count is exactly what the stream acknowledged: a core
          // publish sent while a cluster node is down may be lost on the way, and proves nothing
          const stored = await jetstream(nc.gateway)
            .publish(`conn.device.${encodeToken(`fuzz:${name}`)}.failed`, payload, { timeout: 5_000 })
            .then(() => true, () => false);
          if (stored) counters.connGarbage += 1;
          count(tally, 'absorbed');
          break;
        }
        case 'commands.device':
          nc.hub.publish(subjects.acceptedCommand(`fuzz:${name}`), payload);
          counters.commandGarbage += 1;
          count(tally, 'absorbed');
          break;
        case 'telemetry':
          nc.telemetry.publish(subjects.telemetry(name.length % 2 === 0 ? ids.session : `fuzz-${name}`, name.length % 3 === 0 ? 'setup' : 'data'), payload);
          counters.telemetryGarbage += 1;
          count(tally, 'absorbed');
          break;
        case 'broadcast':
          nc.admin.publish(subjects.broadcast('flow'), payload);
          count(tally, 'absorbed');
          break;
      }
    } catch (err) {
      count(tally, 'untyped', () => `${what()} → ${(err as Error).message}`);
    }
  }
  await Promise.all([nc.admin.flush(), nc.hub.flush(), nc.gateway.flush(), nc.telemetry.flush()]);
}
