import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { subjects } from '../bus/subjects.ts';
import { decodeToken } from '../bus/tokens.ts';
import type { Logger } from '../log/logger.ts';
import { apiError } from './apiError.ts';
import type { CommandIntake } from './commandIntake.ts';

/**
 * Answers NATS requests on `cmd.device.<token>` with the same body and answer as the
 * HTTP route: the reply is `{"status":<http status>,"body":<http body>}`.
 */
export function answerCommandRequests(nc: NatsConnection, intake: CommandIntake, log: Logger): Subscription {
  return nc.subscribe(subjects.commandRequestWildcard, {
    queue: 'hub',
    callback: (err, msg) => {
      if (err) return log.error({ err }, 'command request subscription failed');
      const reply = (status: number, body: unknown): void => {
        if (msg.reply) msg.respond(JSON.stringify({ status, body }));
      };
      let deviceId: string;
      try {
        deviceId = decodeToken(msg.subject.split('.')[2] ?? '');
      } catch (e) {
        return reply(400, apiError('INVALID_DEVICE_ID', (e as Error).message));
      }
      let body: unknown;
      try {
        body = msg.data.length ? JSON.parse(msg.string()) : undefined;
      } catch {
        return reply(400, apiError('INVALID_JSON', 'the request body is not valid JSON'));
      }
      intake.submit(deviceId, body).then(
        (answer) => reply(answer.status, answer.body),
        (e: Error) => {
          log.error({ err: e }, 'command request failed');
          reply(500, apiError('INTERNAL', 'internal error; see the hub log'));
        },
      );
    },
  });
}
