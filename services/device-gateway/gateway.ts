import { createServer, type Server, type Socket } from 'node:net';
import type { DeviceTiming } from '../../machines/deviceSocket.ts';
import type { RecordSink } from '../runtime/host.ts';
import { componentLogger, type Logger } from '../log/logger.ts';
import { awaitHello } from './handshake.ts';
import { startDeviceConnection, type DeviceActor } from './deviceConnection.ts';
import { createDeviceRegistry, type DeviceRegistry } from './deviceRegistry.ts';
import { gatewayMetrics } from './metrics.ts';

export interface DeviceGatewayOptions {
  host: string;
  port: number;
  /** This gateway's name; recorded on every device it owns. */
  name: string;
  sink: RecordSink;
  helloTimeoutMs?: number;
  timing?: Partial<DeviceTiming>;
  logger?: Logger;
  inspect?: Parameters<typeof startDeviceConnection>[0]['inspect'];
}

export interface DeviceGateway {
  server: Server;
  port: number;
  registry: DeviceRegistry;
  /** Every device ends `closed` (its pending flows failed with GATEWAY_SHUTDOWN). */
  close(): Promise<void>;
  /**
   * Fencing after a lost liveness lease: every current device ends `closed` and its socket
   * is closed (it reconnects to a gateway whose lease is current); new devices are accepted.
   */
  closeAllDevices(): number;
}

/** `::ffff:127.0.0.1` → `127.0.0.1`: deviceId is `<remote IPv4>:<name>`. */
export function remoteAddressOf(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export async function startDeviceGateway(options: DeviceGatewayOptions): Promise<DeviceGateway> {
  const log = options.logger ?? componentLogger('device-gateway', { gateway: options.name });
  const registry = createDeviceRegistry();
  const sockets = new Set<Socket>();
  const helloTimeoutMs = options.helloTimeoutMs ?? 5_000;
  const metrics = gatewayMetrics();

  async function onConnection(socket: Socket): Promise<void> {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // reported through the actor once it exists
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const remote = remoteAddressOf(socket);
    const handshake = await awaitHello(socket, helloTimeoutMs);
    if (!handshake.ok) {
      metrics.handshakeFailures.inc({ code: handshake.code });
      log.warn({ remote: `${remote}:${socket.remotePort}`, code: handshake.code }, handshake.message);
      if (!socket.destroyed) {
        socket.end(`${JSON.stringify({ type: 'error', code: handshake.code, message: handshake.message })}\n`);
        setTimeout(() => socket.destroy(), 1_000).unref();
      }
      return;
    }
    const deviceId = `${remote}:${handshake.hello.device}`;
    const previous = registry.get(deviceId);
    if (previous) {
      log.warn({ deviceId }, 'a new connection replaces the current one');
      previous.send({ type: 'device.replaced', by: `${remote}:${socket.remotePort}` });
    }
    const actor = startDeviceConnection({
      socket,
      hello: handshake.hello,
      deviceId,
      remote,
      gateway: options.name,
      timing: options.timing ?? {},
      sink: options.sink,
      logger: log.child({ deviceId }),
      initialLines: handshake.rest,
      onEnd: (ended: DeviceActor) => {
        registry.remove(ended);
        metrics.connected.set(registry.size());
        const error = ended.actor.getSnapshot().context.error;
        metrics.failures.inc({ code: error?.code ?? 'CLOSED' });
        log.info({ deviceId, code: error?.code }, 'device disconnected');
      },
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    registry.add(actor);
    metrics.connected.set(registry.size());
    socket.write(`${JSON.stringify({ type: 'welcome', id: deviceId })}\n`);
    log.info({ deviceId, nodes: handshake.hello.nodes }, 'device connected');
  }

  const server = createServer({ noDelay: true }, (socket) => {
    onConnection(socket).catch((err: Error) => {
      log.error({ err }, 'device connection setup failed');
      socket.destroy();
    });
  });
  server.maxConnections = 100_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'device gateway server error'));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  log.info({ host: options.host, port }, 'device gateway listening');

  return {
    server,
    port,
    registry,
    closeAllDevices: () => {
      const actors = registry.all();
      for (const actor of actors) actor.send({ type: 'gateway.shutdown' });
      return actors.length;
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const actor of registry.all()) actor.send({ type: 'gateway.shutdown' });
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
