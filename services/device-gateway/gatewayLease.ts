import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { DEFAULT_GATEWAY_LEASE_TTL_MS, gatewayLeaseSchema, type GatewayLease } from '../bus/schemas/leases.ts';
import { BUCKETS } from '../bus/subjects.ts';
import type { Logger } from '../log/logger.ts';
import { newIncarnation } from '../runtime/incarnation.ts';


export interface GatewayLeaseOptions {
  nc: NatsConnection;
  gateway: string;
  ttlMs?: number;
  logger: Logger;
  /**
   * The lease was declared expired (the projector has failed, or is failing, every device
   * of this gateway): close them all. The lease goes on with a new incarnation.
   */
  onLost: () => void;
}

export interface GatewayLeaseHandle {
  incarnation(): string;
  /** Ends renewal and deletes the lease (a clean stop: the devices ended by themselves). */
  release(): Promise<void>;
}

/**
 * The gateway's liveness lease (bucket `gateway_leases`, key = its name). Taken with a
 * plain put at start (startGatewayLease resolves only once it is stored, so no device is
 * accepted without one), then renewed every third of the TTL with compare-and-set on the
 * revision it last wrote. A renewal that finds another revision means the lease is no
 * longer this run's: the projector marked it expired (the gateway was partitioned or
 * hung for longer than the TTL), or another gateway took the name. Then the gateway
 * fences itself: every device is closed (`onLost`), and a new lease incarnation is put.
 * A renewal that merely fails (NATS unreachable) is retried; nothing is closed for an
 * outage the projector did not act on.
 */
export async function startGatewayLease(options: GatewayLeaseOptions): Promise<GatewayLeaseHandle> {
  const ttlMs = options.ttlMs ?? DEFAULT_GATEWAY_LEASE_TTL_MS;
  const log = options.logger;
  const kv: KV = await new Kvm(options.nc).open(BUCKETS.gatewayLeases);
  let incarnation = newIncarnation();
  let revision = 0;
  let lastRenewal = Date.now();
  let renewing = false;
  let stopped = false;

  const lease = (): string =>
    JSON.stringify({ gateway: options.gateway, incarnation, renewed_at: new Date().toISOString(), ttl_ms: ttlMs } satisfies GatewayLease);

  async function take(): Promise<void> {
    revision = await kv.put(options.gateway, lease());
    lastRenewal = Date.now();
  }

  async function renew(): Promise<void> {
    try {
      revision = await kv.update(options.gateway, lease(), revision);
      lastRenewal = Date.now();
      return;
    } catch (err) {
      if (!/wrong last sequence/i.test((err as Error).message)) throw err;
    }
    const entry = await kv.get(options.gateway);
    const stored = entry?.operation === 'PUT' ? gatewayLeaseSchema.safeParse(entry.json()) : null;
    if (entry && stored?.success && stored.data.incarnation === incarnation && !stored.data.expired_by) {
      revision = entry.revision; // our own renewal whose answer was lost
      return;
    }
    const lost = incarnation;
    incarnation = newIncarnation();
    log.error(
      { lost, incarnation, expiredBy: stored?.success ? stored.data.expired_by : undefined, heldBy: stored?.success ? stored.data.incarnation : undefined },
      'gateway lease lost (declared expired, or taken by another gateway of this name): closing every device, new lease incarnation',
    );
    options.onLost();
    await take();
  }

  await take();
  log.info({ incarnation, ttlMs }, 'gateway lease taken');

  const tick = (): void => {
    if (stopped || renewing) return;
    renewing = true;
    renew()
      .catch((err: Error) => {
        const level = Date.now() - lastRenewal > ttlMs ? 'error' : 'warn';
        log[level]({ err: err.message, sinceLastRenewalMs: Date.now() - lastRenewal }, 'gateway lease renewal failed; retrying');
      })
      .finally(() => (renewing = false));
  };
  const timer = setInterval(tick, Math.max(50, Math.floor(ttlMs / 3)));

  return {
    incarnation: () => incarnation,
    release: async () => {
      stopped = true;
      clearInterval(timer);
      await kv.delete(options.gateway, { previousSeq: revision }).catch((err: Error) => log.warn({ err: err.message }, 'could not delete the gateway lease'));
    },
  };
}
