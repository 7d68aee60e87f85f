import { dirname, resolve } from 'node:path';
import { answerChildCommands } from '../../child-supervisor/childCommands.ts';
import type { ChildSpec } from '../../child-supervisor/childSpec.ts';
import { startChildSupervisor, type ChildSupervisor } from '../../child-supervisor/childSupervisor.ts';
import { resolveChild } from '../../child-supervisor/resolveChild.ts';
import { assertUniqueNames, DEFAULT_CONFIG_FILE } from '../../config/lifelineConfig.ts';
import { componentLogger, type Logger } from '../../log/logger.ts';
import type { RuntimeConfig } from '../config.ts';
import type { NatsEndpoint } from '../natsEndpoint.ts';
import { openRecordingConnection } from './recordingConnection.ts';
import type { RunningService } from './runningService.ts';

export interface ChildService extends RunningService {
  supervisor: ChildSupervisor;
}

export interface ChildServicesOptions {
  /** Where relative paths of the specs start; default: the configuration file's folder. */
  baseDir?: string;
  /** [0, 1) source of the restart jitter (tests and benchmarks pin it). */
  random?: () => number;
  logger?: Logger;
}

/**
 * One supervisor per child declared in the configuration file, all in this process and
 * sharing one NATS connection (user `child`) and one outbox for their records. Each
 * child is a row of `lifeline up`'s table; the connection closes with the last of them.
 */
export async function startChildServices(
  endpoint: NatsEndpoint,
  config: RuntimeConfig,
  specs: ChildSpec[],
  options: ChildServicesOptions = {},
): Promise<ChildService[]> {
  if (specs.length === 0) return [];
  assertUniqueNames('children', 'children', specs);
  const baseDir = options.baseDir ?? dirname(resolve(config.configFile ?? DEFAULT_CONFIG_FILE));
  const resolved = specs.map((spec) => resolveChild(spec, baseDir));

  const log = options.logger ?? componentLogger('child-supervisor');
  const { bus, outbox, close } = await openRecordingConnection(endpoint, 'child', 'child-supervisor', {
    connectionName: 'lifeline-children',
  });

  const supervisors = resolved.map((child) =>
    startChildSupervisor({
      child,
      sink: outbox,
      logger: log.child({ child: child.spec.name }),
      ...(options.random ? { random: options.random } : {}),
    }),
  );
  const responder = answerChildCommands(bus.nc, supervisors, log);
  let running = supervisors.length;
  const closeShared = async (): Promise<void> => {
    responder.unsubscribe();
    await close();
  };

  return supervisors.map((supervisor) => {
    let stopped = false;
    return {
      name: `child ${supervisor.name}`,
      address: supervisor.child.description.external ? `${supervisor.child.description.url} (external)` : supervisor.child.description.url,
      state: () => supervisor.state(),
      supervisor,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await supervisor.close();
        if (--running === 0) await closeShared();
      },
    };
  });
}
