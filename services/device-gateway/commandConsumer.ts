import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { acceptedCommandSchema, type AcceptedCommand } from '../bus/schemas/commands.ts';
import { parseJsonWith } from '../bus/schemas/parse.ts';
import { STREAMS, subjects } from '../bus/subjects.ts';
import type { Logger } from '../log/logger.ts';
import { publishRejection } from './commandRejection.ts';
import type { DeviceRegistry } from './deviceRegistry.ts';
import { FAILOVER_CONSUME_OPTIONS } from '../bus/consumeOptions.ts';

export interface CommandConsumerOptions {
  nc: NatsConnection;
  registry: DeviceRegistry;
  gateway: string;
  logger: Logger;
}

/** Command ids remembered to recognise a redelivery (the oldest are forgotten first). */
const HANDLED_MEMORY = 100_000;

export interface CommandConsumer {
  stop(): Promise<void>;
}

/** The durable consumer of the commands routed to `gateway` (the projector drains it when that gateway's lease expires). */
export function gatewayCommandsDurable(gateway: string): string {
  return `device-gateway-${gateway}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

/**
 * Creates the gateway's durable on `commands.device.<gateway>.>`. A durable left by a
 * version that consumed every gateway's commands (`commands.device.>`) is recreated to
 * deliver only new ones: what it had not delivered was for other gateways, or is old.
 */
async function ensureGatewayDurable(jsm: JetStreamManager, gateway: string, logger: Logger): Promise<void> {
  const durable = gatewayCommandsDurable(gateway);
  const filter = subjects.gatewayCommands(gateway);
  let deliver: DeliverPolicy = DeliverPolicy.All;
  try {
    const existing = await jsm.consumers.info(STREAMS.commands, durable);
    if (existing.config.filter_subject === filter) return;
    logger.warn({ durable, was: existing.config.filter_subject, now: filter }, 'recreating the command consumer for routed commands');
    await jsm.consumers.delete(STREAMS.commands, durable);
    deliver = DeliverPolicy.New;
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
  }
  await jsm.consumers.add(STREAMS.commands, {
    durable_name: durable,
    filter_subject: filter,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: deliver,
    ack_wait: 30_000_000_000,
    max_ack_pending: 20_000,
  });
}

/**
 * Delivers the accepted commands routed to this gateway (stream COMMANDS) to its device actors. A message is acked
 * only once the record showing the command queued on its device is stored in JetStream,
 * so a gateway that dies in between gets it redelivered. A command whose device is not
 * here (it died after the command was accepted) is rejected: the flow ends `failed`.
 * JetStream delivers at least once (a nats-server killed with SIGKILL can forget acks it
 * had not yet persisted and redeliver those commands): a command this gateway has already
 * handed to a device or rejected is only acked again, never run or rejected twice.
 */
export async function startCommandConsumer(options: CommandConsumerOptions): Promise<CommandConsumer> {
  const { nc, registry, logger } = options;
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const durable = gatewayCommandsDurable(options.gateway);
  await ensureGatewayDurable(jsm, options.gateway, logger);
  const consumer = await js.consumers.get(STREAMS.commands, durable);
  /** command_id → its first delivery's outcome: `true` once stored, else the acks awaiting it. */
  const handled = new Map<string, true | Array<() => void>>();
  const rememberHandled = (commandId: string): void => {
    if (handled.size >= HANDLED_MEMORY) handled.delete(handled.keys().next().value!);
    handled.set(commandId, []);
  };
  const settleHandled = (commandId: string): void => {
    const waiting = handled.get(commandId);
    handled.set(commandId, true);
    if (Array.isArray(waiting)) for (const ack of waiting) ack();
  };

  const reject = (command: AcceptedCommand): Promise<void> =>
    publishRejection(js, command, {
      code: 'DEVICE_NOT_CONNECTED',
      message: `device ${command.device_id} is not connected to gateway ${options.gateway}`,
      component: 'device-gateway',
    });

  function handle(msg: JsMsg): void {
    const parsed = parseJsonWith(acceptedCommandSchema, 'accepted command', msg.data);
    if (!parsed.ok) {
      logger.error({ subject: msg.subject, err: parsed.error.message }, 'dropping a malformed command from COMMANDS');
      msg.term();
      return;
    }
    const command = parsed.value;
    const seen = handled.get(command.command_id);
    if (seen === true) return msg.ack();
    if (seen) return void seen.push(() => msg.ack());
    rememberHandled(command.command_id);
    const done = (): void => {
      msg.ack();
      settleHandled(command.command_id);
    };
    const actor = registry.get(command.device_id);
    // a device that has just ended drops events: its commands must be rejected instead
    if (actor && actor.actor.getSnapshot().status === 'active') {
      const { device_id: _deviceId, ...rest } = command;
      actor.send({ type: 'command.submitted', command: rest }, done);
      return;
    }
    reject(command).then(
      () => {
        logger.warn({ commandId: command.command_id, deviceId: command.device_id }, 'command rejected: device not connected');
        done();
      },
      (err: Error) => {
        logger.warn({ err: err.message, commandId: command.command_id }, 'could not publish a rejection; will retry');
        handled.delete(command.command_id);
        msg.nak(1_000);
      },
    );
  }

  const messages: ConsumerMessages = await consumer.consume({ callback: handle, max_messages: 1_000, ...FAILOVER_CONSUME_OPTIONS });
  return {
    stop: async () => {
      await messages.close();
    },
  };
}
