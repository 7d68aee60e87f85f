import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { gatewayLeaseSchema } from '../bus/schemas/leases.ts';
import { BUCKETS } from '../bus/subjects.ts';
import { devicesListedUnder, recordEndOfOrphanedDevices } from '../device-gateway/orphanedDevices.ts';
import type { Logger } from '../log/logger.ts';
import type { RecordSink } from '../runtime/host.ts';
import type { ProjectionBackend } from './backend.ts';
import { rejectCommandsOfDeadGateway } from './deadGatewayCommands.ts';

export interface GatewayLeaseWatcherOptions {
  nc: NatsConnection;
  backend: ProjectionBackend;
  /** Where the GATEWAY_LEASE_EXPIRED records go (an outbox into CONN). */
  sink: RecordSink;
  logger: Logger;
  /** How often the leases are read (default 500 ms). */
  pollMs?: number;
}

export interface GatewayLeaseWatcher {
  /** Gateways whose lease is expired now, by this watcher's clock. */
  expired(): string[];
  stop(): Promise<void>;
}

interface Observed {
  revision: number;
  /** When (this process's clock) that revision was first seen. */
  since: number;
  ttlMs: number;
}

/**
 * Run by the active projector. Reads bucket `gateway_leases` every `pollMs`; a gateway
 * whose entry's revision has not advanced for its `ttl_ms`, measured on this process's
 * clock from when the revision was first seen here, is dead: for every device the
 * projections list under it, one `→ failed` record with GATEWAY_LEASE_EXPIRED goes into
 * CONN (so every pending flow ends failed, and a replay does the same), and the
 * commands routed to it that it will never take are rejected. This repeats on every
 * poll while the lease stays expired (a device projected late is caught too; one
 * already ended is not ended again), and stops as soon as the gateway renews. While
 * the leases cannot be read, nothing expires: a gap in observation restarts every clock.
 */
export async function startGatewayLeaseWatcher(options: GatewayLeaseWatcherOptions): Promise<GatewayLeaseWatcher> {
  const { nc, backend, logger: log } = options;
  const pollMs = options.pollMs ?? 500;
  const kv: KV = await new Kvm(nc).open(BUCKETS.gatewayLeases);
  const jsm = await jetstreamManager(nc);
  const observed = new Map<string, Observed>();
  /** `device_id incarnation` already ended by this watcher. */
  const ended = new Set<string>();
  let lastObservation = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function leaseKeys(): Promise<string[]> {
    const info = await jsm.streams.info(`KV_${BUCKETS.gatewayLeases}`, { subjects_filter: `$KV.${BUCKETS.gatewayLeases}.>` });
    const prefix = `$KV.${BUCKETS.gatewayLeases}.`;
    return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
  }

  /** Reads every lease; returns the gateways expired now. */
  async function observe(): Promise<string[]> {
    const now = Date.now();
    const gap = lastObservation > 0 && now - lastObservation > Math.max(2_000, pollMs * 4);
    const present = new Set<string>();
    for (const gateway of await leaseKeys()) {
      const entry = await kv.get(gateway);
      if (!entry || entry.operation !== 'PUT') continue; // released: the gateway stopped cleanly
      const lease = gatewayLeaseSchema.safeParse(entry.json());
      if (!lease.success) continue;
      present.add(gateway);
      const known = observed.get(gateway);
      if (!known || known.revision !== entry.revision || gap) observed.set(gateway, { revision: entry.revision, since: now, ttlMs: lease.data.ttl_ms });
    }
    for (const gateway of observed.keys()) if (!present.has(gateway)) observed.delete(gateway);
    lastObservation = Date.now();
    return [...observed].filter(([, o]) => now - o.since >= o.ttlMs).map(([g]) => g);
  }

  async function isStillExpired(gateway: string): Promise<boolean> {
    const entry = await kv.get(gateway);
    return entry?.operation === 'PUT' && entry.revision === observed.get(gateway)?.revision;
  }

  async function failDevicesOf(gateway: string): Promise<void> {
    const devices = (await devicesListedUnder(backend, gateway)).filter((d) => !ended.has(`${d.device_id} ${d.incarnation}`));
    if (devices.length === 0 || !(await isStillExpired(gateway))) return;
    const records = await recordEndOfOrphanedDevices({
      backend,
      devices,
      sink: options.sink,
      end: {
        code: 'GATEWAY_LEASE_EXPIRED',
        event: 'gateway.lease_expired',
        component: 'projector',
        message: (device) => `gateway ${gateway} stopped renewing its lease: ${device.device_id} is taken to be lost with it`,
      },
    });
    for (const d of devices) ended.add(`${d.device_id} ${d.incarnation}`);
    log.warn({ gateway, devices: records.length }, 'gateway lease expired: recorded the end of its devices');
  }

  async function poll(): Promise<void> {
    try {
      for (const gateway of await observe()) {
        if (stopped) return;
        await failDevicesOf(gateway);
        await rejectCommandsOfDeadGateway({ nc, gateway, backend, logger: log, stillExpired: async () => !stopped && (await isStillExpired(gateway)) });
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'gateway leases could not be checked; retrying');
    }
    if (!stopped) timer = setTimeout(() => (current = poll()), pollMs);
  }
  let current = poll();

  return {
    expired: () => [...observed].filter(([, o]) => Date.now() - o.since >= o.ttlMs).map(([g]) => g),
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
