import { leaseSettingsFromEnv } from '../../bus/schemas/leases.ts';
import { startStandbyProjector, type StandbyProjector } from '../../projector/projectorStandby.ts';
import { componentLogger } from '../../log/logger.ts';
import { connectAs, type NatsEndpoint } from '../natsEndpoint.ts';
import type { RunningService } from './runningService.ts';

export interface ProjectorService extends RunningService {
  projector: StandbyProjector;
}

/**
 * The projector, active or standby: several may run, one consumes (docs/scale-out.md).
 * Resolves once it has settled into its first role (consuming, when no other is active).
 */
export async function startProjectorService(endpoint: NatsEndpoint, options: { leaseTtlMs?: number } = {}): Promise<ProjectorService> {
  const bus = await connectAs(endpoint, 'projector', 'lifeline-projector');
  const projector = await startStandbyProjector({
    nc: bus.nc,
    logger: componentLogger('projector'),
    leaseTtlMs: options.leaseTtlMs ?? leaseSettingsFromEnv().projectorLeaseTtlMs,
  });
  await projector.ready;
  return {
    name: 'projector',
    address: 'consumers CONN/projector, COMMANDS/projector, TELEMETRY/projector (when active)',
    state: () => `${projector.role()}, ${projector.stats().applied} applied`,
    projector,
    stop: async () => {
      await projector.stop();
      await bus.close();
    },
  };
}
