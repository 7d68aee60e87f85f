import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { acceptedCommandSchema } from '../bus/schemas/commands.ts';
import { parseJsonWith } from '../bus/schemas/parse.ts';
import { deviceEntrySchema } from '../bus/schemas/projections.ts';
import { BUCKETS, STREAMS } from '../bus/subjects.ts';
import { gatewayCommandsDurable } from '../device-gateway/commandConsumer.ts';
import { publishRejection } from '../device-gateway/commandRejection.ts';
import type { Logger } from '../log/logger.ts';
import type { ProjectionBackend } from './backend.ts';
import { deviceKey } from './reducers/deviceRecord.ts';

/** Commands fetched from a dead gateway's durable at a time. */
const DRAIN_BATCH = 200;

/**
 * Settles the commands routed to a gateway whose lease expired (it is not there to
 * reject them): each one still waiting in its durable is rejected (GATEWAY_LEASE_EXPIRED,
 * the flow ends `failed`) unless its device is listed under that gateway again, which
 * leaves it for the gateway (nak). Only for the time the lease stays expired; the
 * gateway, once back, rejects what is left itself. Returns how many it rejected.
 */
export async function rejectCommandsOfDeadGateway(options: {
  nc: NatsConnection;
  gateway: string;
  backend: ProjectionBackend;
  logger: Logger;
  /** Checked before each rejection: false once the gateway's lease is current again. */
  stillExpired: () => Promise<boolean>;
}): Promise<number> {
  const { nc, gateway, backend, logger } = options;
  const durable = gatewayCommandsDurable(gateway);
  const jsm = await jetstreamManager(nc);
  try {
    const info = await jsm.consumers.info(STREAMS.commands, durable);
    // what the dead gateway was delivered but did not ack comes back after ack_wait
    if (info.num_pending === 0 && info.num_ack_pending === 0) return 0;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return 0;
    throw err;
  }
  const js = jetstream(nc);
  const consumer = await js.consumers.get(STREAMS.commands, durable);
  const messages = await consumer.fetch({ max_messages: DRAIN_BATCH, expires: 1_000 });
  let rejected = 0;
  for await (const msg of messages) {
    const parsed = parseJsonWith(acceptedCommandSchema, 'accepted command', msg.data);
    if (!parsed.ok) {
      msg.term();
      continue;
    }
    const command = parsed.value;
    const listed = deviceEntrySchema.safeParse((await backend.load(BUCKETS.devices, deviceKey(command.device_id))).value);
    if ((listed.success && listed.data.gateway === gateway) || !(await options.stillExpired())) {
      msg.nak(2_000);
      continue;
    }
    await publishRejection(js, command, {
      code: 'GATEWAY_LEASE_EXPIRED',
      message: `gateway ${gateway} is gone (its lease expired): device ${command.device_id} is not connected`,
      component: 'projector',
    });
    msg.ack();
    rejected += 1;
  }
  if (rejected > 0) logger.warn({ gateway, rejected }, 'rejected commands routed to a gateway whose lease expired');
  return rejected;
}
