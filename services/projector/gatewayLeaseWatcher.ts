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
  /** This projector's id, written into a lease it declares expired. */
  holder: string;
  /** How often the leases are read (default 500 ms). */
  pollMs?: number;
}

export interface GatewayLeaseWatcher {
  /** Gateways whose lease is expired now, by this watcher's clock. */
  expired(): string[];
  stop(): Promise<void>;
}

/** How often an expired gateway is looked at again for devices or commands that reached the projections late. */
const RECHECK_MS = 5_000;

interface Observed {
  revision: number;
  /** When (this process's clock) that revision was first seen. */
  since: number;
  ttlMs: number;
}

/**
 * Run by the active projector. Reads bucket `gateway_leases` every `pollMs`. A gateway
 * whose entry's revision has not advanced for its `ttl_ms`, measured on this process's
 * clock from when the revision was first seen here, is declared expired: the entry is
 * written back with `expired_by` by compare-and-set on that revision (a renewal that
 * lands first wins, and nothing happens). An expired gateway is dead: for every device
 * the projections list under it, one `→ failed` record with GATEWAY_LEASE_EXPIRED goes
 * into CONN (so every pending flow ends failed, and a replay does the same), and the
 * commands routed to it that it will never take are rejected. This repeats on every
 * poll while the lease stays expired (a device projected late is caught too; one
 * already ended is not ended again), until the gateway puts a new lease. While the
 * leases cannot be read, nothing expires: a gap in observation restarts every clock.
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
  /** Expired gateways: when their devices and commands were last settled. */
  const handledAt = new Map<string, number>();
  /** The gateways found expired by the last poll. */
  let current: string[] = [];
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function leaseKeys(): Promise<string[]> {
    const info = await jsm.streams.info(`KV_${BUCKETS.gatewayLeases}`, { subjects_filter: `$KV.${BUCKETS.gatewayLeases}.>` });
    const prefix = `$KV.${BUCKETS.gatewayLeases}.`;
    return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
  }

  /** Reads every lease, declares expired those that stood still for their TTL; returns the gateways expired now. */
  async function observe(): Promise<string[]> {
    const now = Date.now();
    const gap = lastObservation > 0 && now - lastObservation > Math.max(2_000, pollMs * 4);
    const present = new Set<string>();
    const expired: string[] = [];
    for (const gateway of await leaseKeys()) {
      const entry = await kv.get(gateway);
      if (!entry || entry.operation !== 'PUT') continue; // released: the gateway stopped cleanly
      const lease = gatewayLeaseSchema.safeParse(entry.json());
      if (!lease.success) continue;
      present.add(gateway);
      if (lease.data.expired_by) {
        expired.push(gateway);
        continue;
      }
      const known = observed.get(gateway);
      if (!known || known.revision !== entry.revision || gap) {
        observed.set(gateway, { revision: entry.revision, since: now, ttlMs: lease.data.ttl_ms });
        continue;
      }
      if (now - known.since < known.ttlMs) continue;
      try {
        await kv.update(gateway, JSON.stringify({ ...lease.data, expired_by: options.holder }), entry.revision);
        log.warn({ gateway, incarnation: lease.data.incarnation, stillForMs: now - known.since }, 'gateway lease expired');
        expired.push(gateway);
      } catch (err) {
        if (!/wrong last sequence/i.test((err as Error).message)) throw err; // renewed meanwhile: alive
      }
    }
    for (const gateway of observed.keys()) if (!present.has(gateway)) observed.delete(gateway);
    lastObservation = Date.now();
    current = expired;
    return expired;
  }

  async function isStillExpired(gateway: string): Promise<boolean> {
    const entry = await kv.get(gateway);
    if (entry?.operation !== 'PUT') return false;
    const lease = gatewayLeaseSchema.safeParse(entry.json());
    return lease.success && lease.data.expired_by !== undefined;
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
      const expired = await observe();
      for (const gateway of handledAt.keys()) if (!expired.includes(gateway)) handledAt.delete(gateway);
      for (const gateway of expired) {
        if (stopped) return;
        // at once when found expired, then now and then for stragglers (late devices, late commands)
        if (Date.now() - (handledAt.get(gateway) ?? 0) < RECHECK_MS) continue;
        handledAt.set(gateway, Date.now());
        await failDevicesOf(gateway);
        await rejectCommandsOfDeadGateway({ nc, gateway, backend, logger: log, stillExpired: async () => !stopped && (await isStillExpired(gateway)) });
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'gateway leases could not be checked; retrying');
    }
    if (!stopped) timer = setTimeout(() => (polling = poll()), pollMs);
  }
  let polling = poll();

  return {
    expired: () => [...current],
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await polling;
    },
  };
}
