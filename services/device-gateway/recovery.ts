import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { STREAMS } from '../bus/subjects.ts';
import type { Logger } from '../log/logger.ts';
import { createKvBackend } from '../projector/backend.ts';
import type { RecordSink } from '../runtime/host.ts';
import { devicesListedUnder, recordEndOfOrphanedDevices } from './orphanedDevices.ts';

export interface RecoveryOptions {
  nc: NatsConnection;
  gateway: string;
  sink: RecordSink;
  logger: Logger;
  /** How long to wait for the projector to catch up before reading projections. */
  catchUpTimeoutMs?: number;
}

/**
 * A gateway that died took its devices' actors with it, and nothing recorded their end
 * (unless its lease expired meanwhile and the projector did: then nothing is left here).
 * At the next start, before accepting devices, the gateway records that end for every
 * device the projections still list under its name: `→ failed` with GATEWAY_RESTARTED
 * (see recordEndOfOrphanedDevices). The projector then cleans up as for any failure.
 */
export async function recordOrphanedDevices(options: RecoveryOptions): Promise<number> {
  const { nc, logger } = options;
  await waitForProjectorCatchUp(nc, options.catchUpTimeoutMs ?? 5_000, logger);
  const backend = createKvBackend(nc);
  const orphans = await devicesListedUnder(backend, options.gateway);
  const records = await recordEndOfOrphanedDevices({
    backend,
    devices: orphans,
    sink: options.sink,
    end: {
      code: 'GATEWAY_RESTARTED',
      event: 'gateway.recovered',
      component: 'device-gateway',
      message: (device) => `gateway ${options.gateway} stopped without closing ${device.device_id}; its connection was lost`,
    },
  });
  if (records.length > 0) logger.warn({ devices: records.length }, 'recorded the end of devices a previous run of this gateway left behind');
  return records.length;
}

async function waitForProjectorCatchUp(nc: NatsConnection, timeoutMs: number, logger: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const info = await jsm.consumers.info(STREAMS.conn, 'projector');
      if (info.num_pending === 0 && info.num_ack_pending === 0) return;
    } catch {
      return; // no projector consumer yet: nothing has been projected
    }
    if (Date.now() > deadline) {
      logger.warn('the projector is behind; recovering from the projections as they are');
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
