import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { GatewayLease } from '../bus/schemas/leases.ts';
import { BUCKETS } from '../bus/subjects.ts';
import type { Logger } from '../log/logger.ts';
import { newIncarnation } from '../runtime/incarnation.ts';

export const DEFAULT_GATEWAY_LEASE_TTL_MS = 10_000;

export interface GatewayLeaseOptions {
  nc: NatsConnection;
  gateway: string;
  ttlMs?: number;
  logger: Logger;
  /**
   * The lease was not renewed within its TTL (on this process's clock): the projector may
   * have failed every device of this gateway already. Close them all; the lease goes on
   * with a new incarnation.
   */
  onLost: () => void;
}

export interface GatewayLeaseHandle {
  incarnation(): string;
  /** Ends renewal and deletes the lease (a clean stop: the devices ended by themselves). */
  release(): Promise<void>;
}

/**
 * The gateway's liveness lease (bucket `gateway_leases`, key = its name): written at once
 * (startGatewayLease resolves only once it is stored, so no device is accepted without
 * one), then every third of the TTL. The projector fails the gateway's devices when the
 * entry's revision stops advancing for a TTL on its clock; the gateway, for its part,
 * fences itself when its own last successful renewal was sent more than a TTL ago.
 */
export async function startGatewayLease(options: GatewayLeaseOptions): Promise<GatewayLeaseHandle> {
  const ttlMs = options.ttlMs ?? DEFAULT_GATEWAY_LEASE_TTL_MS;
  const log = options.logger;
  const kv: KV = await new Kvm(options.nc).open(BUCKETS.gatewayLeases);
  let incarnation = newIncarnation();
  let lastRenewalSentAt = 0;
  let renewing = false;
  let stopped = false;

  async function renew(): Promise<void> {
    const sentAt = Date.now();
    const lease: GatewayLease = { gateway: options.gateway, incarnation, renewed_at: new Date(sentAt).toISOString(), ttl_ms: ttlMs };
    await kv.put(options.gateway, JSON.stringify(lease));
    lastRenewalSentAt = sentAt;
  }

  await renew();
  log.info({ incarnation, ttlMs }, 'gateway lease taken');

  const tick = (): void => {
    if (stopped) return;
    // checked on every tick, even while a renewal hangs on an unreachable server
    if (Date.now() - lastRenewalSentAt > ttlMs) {
      const lost = incarnation;
      incarnation = newIncarnation();
      lastRenewalSentAt = Date.now(); // the new incarnation gets a full TTL to be stored
      log.error({ lost, incarnation }, 'gateway lease lost (not renewed within its TTL): closing every device, new lease incarnation');
      options.onLost();
    }
    if (renewing) return;
    renewing = true;
    renew()
      .catch((err: Error) => log.warn({ err: err.message }, 'gateway lease renewal failed; retrying'))
      .finally(() => (renewing = false));
  };
  const timer = setInterval(tick, Math.max(50, Math.floor(ttlMs / 3)));

  return {
    incarnation: () => incarnation,
    release: async () => {
      stopped = true;
      clearInterval(timer);
      await kv.delete(options.gateway).catch((err: Error) => log.warn({ err: err.message }, 'could not delete the gateway lease'));
    },
  };
}
