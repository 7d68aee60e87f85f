import { assertUniqueNames } from '../../config/lifelineConfig.ts';
import { startEsp32Link, type Esp32Link, type Esp32LinkOptions } from '../../esp32-link/esp32LinkService.ts';
import type { LinkSpec } from '../../esp32-link/linkSpec.ts';
import { componentLogger } from '../../log/logger.ts';
import type { RuntimeConfig } from '../config.ts';
import type { NatsEndpoint } from '../natsEndpoint.ts';
import { openRecordingConnection } from './recordingConnection.ts';
import type { RunningService } from './runningService.ts';

export interface LinkService extends RunningService {
  link: Esp32Link;
}

export interface LinkServicesOptions {
  /** Extra inspection of every link actor (benchmarks time transitions with it). */
  inspect?: Esp32LinkOptions['inspect'];
}

/**
 * One ESP32 link per link declared in the configuration file, all in this process and
 * sharing one NATS connection (user `link`) and one outbox for their records. Each link
 * is a row of `lifeline up`'s table; the connection closes with the last of them.
 */
export async function startLinkServices(
  endpoint: NatsEndpoint,
  _config: RuntimeConfig,
  specs: LinkSpec[],
  options: LinkServicesOptions = {},
): Promise<LinkService[]> {
  if (specs.length === 0) return [];
  assertUniqueNames('links', 'links', specs);

  const { bus, outbox, close } = await openRecordingConnection(endpoint, 'link', 'esp32-link', { connectionName: 'lifeline-links' });

  const links: Esp32Link[] = [];
  try {
    for (const spec of specs) {
      links.push(
        await startEsp32Link({
          nc: bus.nc,
          sink: outbox,
          spec,
          logger: componentLogger('esp32-link', { link: spec.name }),
          ...(options.inspect ? { inspect: options.inspect } : {}),
        }),
      );
    }
  } catch (err) {
    await Promise.all(links.map((l) => l.stop()));
    await close();
    throw err;
  }

  let running = links.length;
  return links.map((link, i) => {
    const spec = specs[i]!;
    let stopped = false;
    return {
      name: `esp32-link ${spec.name}`,
      address: `tcp://${spec.host}:${spec.port}`,
      state: () => link.state(),
      link,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await link.stop();
        if (--running === 0) await close();
      },
    };
  });
}
