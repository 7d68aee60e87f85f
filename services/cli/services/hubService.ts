import { startHub, type Hub } from '../../hub/hub.ts';
import type { RuntimeConfig } from '../config.ts';
import { connectAs, type NatsEndpoint } from '../natsEndpoint.ts';
import type { RunningService } from './runningService.ts';

export interface HubService extends RunningService {
  hub: Hub;
}

export async function startHubService(endpoint: NatsEndpoint, config: RuntimeConfig): Promise<HubService> {
  const bus = await connectAs(endpoint, 'hub', 'lifeline-hub');
  const hub = await startHub({ bus, host: config.httpHost, port: config.httpPort });
  return {
    name: 'hub',
    address: `${hub.url} (REST, /ws, /healthz, /metrics)`,
    state: () => bus.status(),
    hub,
    stop: async () => {
      await hub.close();
      await bus.close();
    },
  };
}
