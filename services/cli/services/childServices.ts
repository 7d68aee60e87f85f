import type { ChildSpec } from '../../child-supervisor/childSpec.ts';
import type { RuntimeConfig } from '../config.ts';
import type { NatsEndpoint } from '../natsEndpoint.ts';
import type { RunningService } from './runningService.ts';

/** One supervisor per child declared in the configuration file (issue 3). */
export async function startChildServices(_endpoint: NatsEndpoint, _config: RuntimeConfig, specs: ChildSpec[]): Promise<RunningService[]> {
  if (specs.length > 0) throw new Error('child supervision is not built yet (issue 3)');
  return [];
}
