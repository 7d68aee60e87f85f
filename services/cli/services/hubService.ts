import { startHub, type Hub, type HubOptions } from '../../hub/hub.ts';
import type { RuntimeConfig } from '../config.ts';
import type { NatsEndpoint } from '../natsEndpoint.ts';
import { openRecordingConnection } from './recordingConnection.ts';
import type { RunningService } from './runningService.ts';

export interface HubService extends RunningService {
  hub: Hub;
}

/** The hub on its own connection (user `hub`), whose outbox records the `client` actors. */
export async function startHubService(endpoint: NatsEndpoint, config: RuntimeConfig, options: { ws?: HubOptions['ws'] } = {}): Promise<HubService> {
  const { bus, outbox, close } = await openRecordingConnection(endpoint, 'hub', 'hub', { connectionName: 'lifeline-hub' });
  const hub = await startHub({ bus, sink: outbox, host: config.httpHost, port: config.httpPort, ...(options.ws ? { ws: options.ws } : {}) });
  let stopped = false;
  return {
    name: 'hub',
    address: `${hub.url} (REST, /ws, /healthz, /metrics)`,
    state: () => bus.status(),
    hub,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await hub.close();
      await close();
    },
  };
}
