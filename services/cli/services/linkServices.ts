import type { LinkSpec } from '../../esp32-link/linkSpec.ts';
import type { RuntimeConfig } from '../config.ts';
import type { NatsEndpoint } from '../natsEndpoint.ts';
import type { RunningService } from './runningService.ts';

/** One ESP32 link per link declared in the configuration file (issue 6). */
export async function startLinkServices(_endpoint: NatsEndpoint, _config: RuntimeConfig, specs: LinkSpec[]): Promise<RunningService[]> {
  if (specs.length > 0) throw new Error('ESP32 links are not built yet (issue 6)');
  return [];
}
