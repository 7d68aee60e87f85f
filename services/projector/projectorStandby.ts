import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createOutbox, type Outbox } from '../bus/outbox.ts';
import { componentLogger, type Logger } from '../log/logger.ts';
import { createKvBackend } from './backend.ts';
import { PROJECTOR_HEARTBEAT_SUBJECT } from './broadcasts.ts';
import { startGatewayLeaseWatcher, type GatewayLeaseWatcher } from './gatewayLeaseWatcher.ts';
import { startLeaderLease, type ProjectorRole } from './leaderLease.ts';
import { startProjector, type Projector, type ProjectorOptions, type ProjectorStats } from './projector.ts';

export interface StandbyProjectorOptions {
  nc: NatsConnection;
  logger?: Logger;
  /** The leader lease's TTL (default 5 s). */
  leaseTtlMs?: number;
  /** How often the active projector reads the gateways' leases (default 500 ms). */
  gatewayLeasePollMs?: number;
  heartbeatMs?: number;
  /** Passed to startProjector while active. */
  projector?: Omit<ProjectorOptions, 'nc' | 'logger' | 'fence' | 'takeOver'>;
}

export interface StandbyProjector extends Projector {
  role(): ProjectorRole;
  holder: string;
  /** Resolves once this process has settled into its first role (consuming, if it was elected at once). */
  ready: Promise<void>;
}

/**
 * A projector that consumes only while it holds the leader lease (leaderLease.ts): then
 * it takes the durables over from their ack floor, projects (fenced: it stops applying
 * and acking the moment its lease lapses on its clock) and watches the gateways' leases
 * (gatewayLeaseWatcher.ts). Otherwise it is a standby that heartbeats `role: standby`.
 * Several may run; exactly one is active at a time.
 */
export async function startStandbyProjector(options: StandbyProjectorOptions): Promise<StandbyProjector> {
  const { nc } = options;
  const log = options.logger ?? componentLogger('projector');
  let active: { projector: Projector; watcher: GatewayLeaseWatcher; outbox: Outbox } | null = null;
  let leaseStarted!: () => void;
  /** Role changes run in order, the first once `lease` below is assigned. */
  let transitions = new Promise<void>((resolve) => (leaseStarted = resolve));
  let stopping = false;
  const lastStats: ProjectorStats = { applied: 0, rejected: 0, batches: 0, writeFailures: 0 };

  async function activate(): Promise<void> {
    if (active || stopping || lease.role() !== 'active') return;
    const outbox = createOutbox({ js: jetstream(nc), isConnected: () => !nc.isClosed(), logger: componentLogger('outbox', { service: 'projector' }) });
    let projector: Projector | undefined;
    try {
      projector = await startProjector({ ...options.projector, nc, logger: log, fence: () => lease.holds(), takeOver: true });
      const watcher = await startGatewayLeaseWatcher({
        nc,
        backend: createKvBackend(nc),
        sink: outbox,
        logger: log,
        holder: lease.holder,
        ...(options.gatewayLeasePollMs ? { pollMs: options.gatewayLeasePollMs } : {}),
      });
      active = { projector, watcher, outbox };
    } catch (err) {
      log.error({ err: (err as Error).message }, 'could not start consuming as the active projector; retrying');
      await projector?.stop().catch(() => {});
      await outbox.close();
      setTimeout(() => (transitions = transitions.then(activate)), 1_000).unref();
    }
  }

  async function deactivate(): Promise<void> {
    if (!active) return;
    const { projector, watcher, outbox } = active;
    active = null;
    Object.assign(lastStats, projector.stats());
    // consuming stops first: a deposed projector must pull nothing more from the durables
    await projector.stop().catch((err: Error) => log.warn({ err: err.message }, 'projector stop failed'));
    await watcher.stop();
    await Promise.race([outbox.flush(), new Promise((r) => setTimeout(r, 2_000))]);
    await outbox.close();
  }

  const onRole = (role: ProjectorRole): void => {
    transitions = transitions.then(role === 'active' ? activate : deactivate);
  };
  const lease = await startLeaderLease({
    nc,
    logger: log,
    onRole,
    ...(options.leaseTtlMs ? { ttlMs: options.leaseTtlMs } : {}),
  });
  leaseStarted();

  const heartbeat = setInterval(() => {
    if (nc.isClosed() || lease.role() === 'active') return; // the active projector beats itself
    nc.publish(PROJECTOR_HEARTBEAT_SUBJECT, JSON.stringify({ service: 'projector', role: 'standby', holder: lease.holder, at: new Date().toISOString() }));
  }, options.heartbeatMs ?? 1_000);

  return {
    holder: lease.holder,
    role: () => (active ? 'active' : 'standby'),
    ready: transitions,
    stats: () => (active ? active.projector.stats() : { ...lastStats }),
    stop: async () => {
      clearInterval(heartbeat);
      stopping = true;
      // still holding the lease while it stops, so what it applied is acked; then released
      transitions = transitions.then(deactivate);
      await transitions;
      await lease.stop();
      await transitions;
    },
  };
}
