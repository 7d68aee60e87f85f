import { assertUniqueNames } from '../../config/lifelineConfig.ts';
import { componentLogger } from '../../log/logger.ts';
import type { PollerSpec } from '../../rpc-poller/pollerSpec.ts';
import { startRpcPoller, type RpcPoller } from '../../rpc-poller/rpcPollerService.ts';
import type { NatsEndpoint } from '../natsEndpoint.ts';
import { openRecordingConnection } from './recordingConnection.ts';
import type { RunningService } from './runningService.ts';

export interface PollerService extends RunningService {
  poller: RpcPoller;
}

/**
 * One RPC poller per poller declared in the configuration file, all in this process and
 * sharing one NATS connection (user `rpc`) and one outbox. The pollers write no bucket:
 * the projector turns their records into `rpc_cache`.
 */
export async function startPollerServices(endpoint: NatsEndpoint, specs: PollerSpec[]): Promise<PollerService[]> {
  if (specs.length === 0) return [];
  assertUniqueNames('pollers', 'pollers', specs);
  const { outbox, close } = await openRecordingConnection(endpoint, 'rpc', 'rpc-poller', { connectionName: 'lifeline-pollers' });
  let running = specs.length;
  return specs.map((spec) => {
    const poller = startRpcPoller({ spec, sink: outbox, logger: componentLogger('rpc-poller', { poller: spec.name }) });
    let stopped = false;
    return {
      name: `rpc-poller ${spec.name}`,
      address: spec.url,
      state: () => poller.state(),
      poller,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await poller.stop();
        if (--running === 0) await close();
      },
    };
  });
}
