import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { createErrorEvent } from '../../machines/lib/errorEvent.ts';
import type { AcceptedCommand, RejectedCommand } from '../bus/schemas/commands.ts';
import { subjects } from '../bus/subjects.ts';

/**
 * Publishes that an accepted command could not be delivered (its flow ends `failed`),
 * with `Nats-Msg-Id` `rejected:<command_id>`: whoever rejects it (its gateway, or the
 * projector draining a dead gateway's commands), it is stored once.
 */
export async function publishRejection(
  js: JetStreamClient,
  command: AcceptedCommand,
  reason: { code: string; message: string; component: string },
): Promise<void> {
  const rejection: RejectedCommand = {
    command_id: command.command_id,
    device_id: command.device_id,
    node_id: command.node_id,
    accepted_at: command.accepted_at,
    error: createErrorEvent({ ...reason, retryable: true, at: Date.now(), details: { device_id: command.device_id } }),
  };
  const h = headers();
  h.set('Nats-Msg-Id', `rejected:${command.command_id}`);
  await js.publish(subjects.rejectedCommand(command.device_id), JSON.stringify(rejection), { headers: h });
}
