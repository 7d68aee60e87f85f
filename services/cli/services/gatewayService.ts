import type { DeviceTiming } from '../../../machines/deviceSocket.ts';
import { startCommandConsumer } from '../../device-gateway/commandConsumer.ts';
import { startGatewayLease } from '../../device-gateway/gatewayLease.ts';
import { recordOrphanedDevices } from '../../device-gateway/recovery.ts';
import { leaseSettingsFromEnv } from '../../bus/schemas/leases.ts';
import { startDeviceGateway, type DeviceGateway } from '../../device-gateway/gateway.ts';
import { componentLogger } from '../../log/logger.ts';
import { deviceTimingOf, type RuntimeConfig } from '../config.ts';
import type { NatsEndpoint } from '../natsEndpoint.ts';
import type { Outbox } from '../../bus/outbox.ts';
import { openRecordingConnection } from './recordingConnection.ts';
import type { RunningService } from './runningService.ts';

export interface GatewayService extends RunningService {
  gateway: DeviceGateway;
  outbox: Outbox;
}

/** The TCP device gateway: its devices' actors, their outbox and the command consumer. */
export async function startGatewayService(
  endpoint: NatsEndpoint,
  config: RuntimeConfig,
  options: { timing?: Partial<DeviceTiming>; helloTimeoutMs?: number; outboxCapacity?: number; leaseTtlMs?: number } = {},
): Promise<GatewayService> {
  const log = componentLogger('device-gateway', { gateway: config.gatewayName });
  const { bus, outbox, close } = await openRecordingConnection(endpoint, 'gateway', 'device-gateway', {
    connectionName: `lifeline-gateway-${config.gatewayName}`,
    ...(options.outboxCapacity ? { outboxCapacity: options.outboxCapacity } : {}),
  });
  let fence = (): void => {};
  const lease = await startGatewayLease({
    nc: bus.nc,
    gateway: config.gatewayName,
    ttlMs: options.leaseTtlMs ?? leaseSettingsFromEnv().gatewayLeaseTtlMs,
    logger: log,
    onLost: () => fence(),
  });
  await recordOrphanedDevices({ nc: bus.nc, gateway: config.gatewayName, sink: outbox, logger: log });
  const gateway = await startDeviceGateway({
    host: config.deviceHost,
    port: config.devicePort,
    name: config.gatewayName,
    sink: outbox,
    logger: log,
    timing: { ...deviceTimingOf(config), ...options.timing },
    helloTimeoutMs: options.helloTimeoutMs ?? config.deviceHelloTimeoutMs,
  });
  fence = () => log.warn({ devices: gateway.closeAllDevices() }, 'fenced: every device closed');
  const consumer = await startCommandConsumer({ nc: bus.nc, registry: gateway.registry, gateway: config.gatewayName, logger: log });
  return {
    name: 'device-gateway',
    address: `tcp://${config.deviceHost}:${gateway.port}`,
    state: () => `${gateway.registry.size()} device(s), outbox ${outbox.stats().queued} queued`,
    gateway,
    outbox,
    stop: async () => {
      await consumer.stop();
      await gateway.close();
      await lease.release();
      await close();
    },
  };
}
