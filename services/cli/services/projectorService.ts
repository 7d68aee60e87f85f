import { startProjector, type Projector } from '../../projector/projector.ts';
import { componentLogger } from '../../log/logger.ts';
import { connectAs, type NatsEndpoint } from '../natsEndpoint.ts';
import type { RunningService } from './runningService.ts';

export interface ProjectorService extends RunningService {
  projector: Projector;
}

export async function startProjectorService(endpoint: NatsEndpoint): Promise<ProjectorService> {
  const bus = await connectAs(endpoint, 'projector', 'lifeline-projector');
  const projector = await startProjector({ nc: bus.nc, logger: componentLogger('projector') });
  return {
    name: 'projector',
    address: 'consumers CONN/projector, COMMANDS/projector, TELEMETRY/projector',
    state: () => `${projector.stats().applied} applied`,
    projector,
    stop: async () => {
      await projector.stop();
      await bus.close();
    },
  };
}
