import type { LifelineConfig } from '../../config/lifelineConfig.ts';
import type { RuntimeConfig } from '../config.ts';
import type { NatsEndpoint } from '../natsEndpoint.ts';
import { startChildServices } from './childServices.ts';
import { startGatewayService } from './gatewayService.ts';
import { startHubService } from './hubService.ts';
import { startLinkServices } from './linkServices.ts';
import { startProjectorService } from './projectorService.ts';
import { startPollerServices } from './rpcPollerServices.ts';
import type { RunningService } from './runningService.ts';

/**
 * Every service `lifeline up` starts and `lifeline run` can run alone, with the one start
 * function both use. Core services need no configuration file; declared ones are started
 * per entry of their section of lifeline.config.json.
 */
export interface CoreService {
  /** `lifeline run <name>`. */
  name: 'projector' | 'hub' | 'device-gateway';
  /** `up`'s progress line: `starting <label>`. */
  label: string;
  summary: string;
  start(endpoint: NatsEndpoint, config: RuntimeConfig): Promise<RunningService>;
}

export const CORE_SERVICES: readonly CoreService[] = [
  {
    name: 'projector',
    label: 'projector',
    summary: 'the event log → projections and broadcasts; also the telemetry ingest (durable consumers on CONN, COMMANDS, TELEMETRY)',
    start: (endpoint) => startProjectorService(endpoint),
  },
  {
    name: 'hub',
    label: 'hub',
    summary: 'HTTP API, dashboard, /ws, /healthz, /metrics (LIFELINE_HTTP_HOST, LIFELINE_HTTP_PORT)',
    start: (endpoint, config) => startHubService(endpoint, config),
  },
  {
    name: 'device-gateway',
    label: 'device gateway',
    summary: 'the TCP device gateway and its command consumer (LIFELINE_DEVICE_HOST, LIFELINE_DEVICE_PORT, LIFELINE_GATEWAY_NAME)',
    start: (endpoint, config) => startGatewayService(endpoint, config),
  },
];

export type Section = 'children' | 'links' | 'pollers';

export interface DeclaredService {
  /** `lifeline run <name> <entry name…>`. */
  name: 'child' | 'link' | 'poller';
  /** The configuration file's section it reads. */
  section: Section;
  /** `up`'s progress line: `starting <label> <entry name>`. */
  label: string;
  summary: string;
  /** Starts every entry of its section in `declared` (`run` passes only the entries it picked). */
  start(endpoint: NatsEndpoint, config: RuntimeConfig, declared: LifelineConfig): Promise<RunningService[]>;
}

/** In `up`'s order: children, links, pollers. */
export const DECLARED_SERVICES: readonly DeclaredService[] = [
  {
    name: 'child',
    section: 'children',
    label: 'child supervisor',
    summary: 'supervises a child process declared under "children" (e.g. the Flask app)',
    start: (endpoint, config, declared) => startChildServices(endpoint, config, declared.children),
  },
  {
    name: 'link',
    section: 'links',
    label: 'ESP32 link',
    summary: 'an ESP32 Meshtastic radio link declared under "links"',
    start: (endpoint, config, declared) => startLinkServices(endpoint, config, declared.links),
  },
  {
    name: 'poller',
    section: 'pollers',
    label: 'RPC poller',
    summary: 'a JSON-RPC backend poller behind a circuit breaker, declared under "pollers"',
    start: (endpoint, _config, declared) => startPollerServices(endpoint, declared.pollers),
  },
];
