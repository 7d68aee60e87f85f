import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { childCommandSchema } from '../bus/schemas/children.ts';
import { parseJsonWith } from '../bus/schemas/parse.ts';
import { subjects } from '../bus/subjects.ts';
import { decodeToken } from '../bus/tokens.ts';
import type { Logger } from '../log/logger.ts';
import type { ChildSupervisor } from './childSupervisor.ts';

const error = (code: string, message: string) => ({ error: { code, message } });

/**
 * Answers `cmd.child.<token>` requests for the children this process supervises:
 * `{"action":"start"}` starts a failed or stopped child again (fresh restart budget),
 * `{"action":"stop"}` stops it. The reply is `{"status":<http status>,"body":…}`.
 * A name this process does not supervise gets no answer (another supervisor may have it).
 */
export function answerChildCommands(nc: NatsConnection, supervisors: ChildSupervisor[], log: Logger): Subscription {
  const byName = new Map(supervisors.map((s) => [s.name, s]));
  return nc.subscribe(subjects.childCommands, {
    callback: (err, msg) => {
      if (err) return log.error({ err }, 'child command subscription failed');
      const reply = (status: number, body: unknown): void => {
        if (msg.reply) msg.respond(JSON.stringify({ status, body }));
      };
      let name: string;
      try {
        name = decodeToken(msg.subject.split('.')[2] ?? '');
      } catch {
        return;
      }
      const supervisor = byName.get(name);
      if (!supervisor) return;
      const parsed = parseJsonWith(childCommandSchema, 'child command', msg.data);
      if (!parsed.ok) return reply(400, error('INVALID_CHILD_COMMAND', parsed.error.message));
      const before = supervisor.state();
      log.info({ child: name, action: parsed.value.action, state: before }, `child command: ${parsed.value.action}`);
      if (parsed.value.action === 'start') {
        supervisor.start();
        const after = supervisor.state();
        if (after === before) return reply(409, error('CHILD_NOT_STARTABLE', `${name} is ${before}: only a failed or stopped child can be started`));
        return reply(202, { name, action: 'start', state: after });
      }
      void supervisor.stop();
      return reply(202, { name, action: 'stop', state: supervisor.state() });
    },
  });
}
