import type { RuntimeConfig } from './config.ts';
import { resolveNatsEndpoint } from './natsEndpoint.ts';
import { startGatewayService } from './services/gatewayService.ts';
import { startHubService } from './services/hubService.ts';
import { startProjectorService } from './services/projectorService.ts';
import type { RunningService } from './services/runningService.ts';

export const RUNNABLE_SERVICES = ['projector', 'hub', 'device-gateway'] as const;
export type RunnableService = (typeof RUNNABLE_SERVICES)[number];

/** `lifeline run <service>`: one service alone, against NATS_URL or the bundled server. */
export async function runService(name: RunnableService, config: RuntimeConfig): Promise<number> {
  const endpoint = await resolveNatsEndpoint(config);
  let service: RunningService;
  if (name === 'projector') service = await startProjectorService(endpoint);
  else if (name === 'hub') service = await startHubService(endpoint, config);
  else service = await startGatewayService(endpoint, config);
  process.stdout.write(`${service.name} running: ${service.address}\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) process.exit(130);
      stopping = true;
      service.stop().then(() => resolve(0), () => resolve(1));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
