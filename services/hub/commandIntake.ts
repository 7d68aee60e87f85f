import { randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { commandRequestSchema, type AcceptedCommand } from '../bus/schemas/commands.ts';
import { formatIssues } from '../bus/schemas/parse.ts';
import type { DeviceEntry } from '../bus/schemas/projections.ts';
import { BUCKETS, subjects } from '../bus/subjects.ts';
import { encodeToken } from '../bus/tokens.ts';
import type { Logger } from '../log/logger.ts';
import { createKvBackend } from '../projector/backend.ts';
import { broadcastChanges } from '../projector/broadcasts.ts';
import { createProjectionStore, type Change } from '../projector/projectionStore.ts';
import { jsonEqual } from '../projector/jsonEqual.ts';
import { projectAcceptedCommand, startedFlow } from '../projector/reducers/commandMessage.ts';
import { flowKey } from '../projector/reducers/deviceRecord.ts';
import { apiError, type ApiAnswer } from './apiError.ts';
import type { BucketMirror } from './bucketMirror.ts';

export interface CommandAccepted {
  command_id: string;
  node_id: string;
  status: 'started';
}

export interface CommandIntake {
  submit(deviceId: string, body: unknown): Promise<ApiAnswer<CommandAccepted>>;
}

/** Time-ordered, unique: `c-<base36 ms>-<8 hex>`. */
export function newCommandId(now = Date.now()): string {
  return `c-${now.toString(36).padStart(9, '0')}-${randomBytes(4).toString('hex')}`;
}

/**
 * Shared by `POST /api/devices/:deviceId/commands` and the `cmd.device.<token>` NATS
 * request. A command is accepted only once it is stored in stream COMMANDS (so nothing
 * accepted is forgotten), on the subject of the gateway the `devices` projection lists
 * the device under (`commands.device.<gateway>.<device>`: only that gateway consumes
 * it); its flow is then written `started` for read-your-writes.
 */
export function createCommandIntake(options: { nc: NatsConnection; devices: BucketMirror<DeviceEntry>; logger: Logger }): CommandIntake {
  const js = jetstream(options.nc);
  const flows = createProjectionStore(createKvBackend(options.nc));
  const log = options.logger;

  return {
    async submit(deviceId, body) {
      const parsed = commandRequestSchema.safeParse(body);
      if (!parsed.success) return { status: 400, body: apiError('INVALID_COMMAND', formatIssues(parsed.error)) };
      const request = parsed.data;
      const device = options.devices.get(encodeToken(deviceId));
      if (!device) return { status: 404, body: apiError('DEVICE_NOT_CONNECTED', `device ${deviceId} is not connected`) };
      if (request.instance !== undefined && request.instance > device.nodes) {
        return {
          status: 400,
          body: apiError('INVALID_INSTANCE', `instance ${request.instance} is out of range: device ${deviceId} has ${device.nodes} node(s)`),
        };
      }
      const now = Date.now();
      const command: AcceptedCommand = {
        command_id: newCommandId(now),
        device_id: deviceId,
        node_id: request.node_id,
        command: request.command,
        params: request.params ?? {},
        accepted_at: new Date(now).toISOString(),
        ...(request.instance !== undefined ? { instance: request.instance } : {}),
      };
      const h = headers();
      h.set('Nats-Msg-Id', command.command_id);
      try {
        await js.publish(subjects.routedCommand(device.gateway, deviceId), JSON.stringify(command), { headers: h, timeout: 5_000 });
      } catch (err) {
        log.error({ err: (err as Error).message, deviceId }, 'could not store a command in COMMANDS');
        return { status: 503, body: apiError('NATS_UNAVAILABLE', 'the command could not be stored; nothing was accepted, try again') };
      }
      const announce = (changes: Change[]): void => broadcastChanges(options.nc, changes);
      // whoever writes `started` first broadcasts it: when the hub does, the projector finds
      // the entry unchanged and stays silent, so dashboards would never see it. It is
      // announced as soon as the command is stored, before the KV read and write: the
      // device's progress (ack → `in progress`, via the gateway and the projector, which
      // runs on another thread) must never reach a dashboard before it
      const started = startedFlow(command);
      announce([{ bucket: BUCKETS.flows, key: flowKey(command.node_id), value: started }]);
      try {
        const written = await flows.apply([projectAcceptedCommand(command)]);
        // what the merge with the stored entry made of it, if not just that
        announce(written.filter((c) => !jsonEqual(c.value, started)));
      } catch (err) {
        log.warn({ err: (err as Error).message, commandId: command.command_id }, 'flow not written at intake; the projector will write it');
      }
      log.info({ commandId: command.command_id, deviceId, nodeId: command.node_id }, 'command accepted');
      return { status: 202, body: { command_id: command.command_id, node_id: command.node_id, status: 'started' } };
    },
  };
}
