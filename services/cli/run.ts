import { DEFAULT_CONFIG_FILE, loadLifelineConfig, type LifelineConfig } from '../config/lifelineConfig.ts';
import type { RuntimeConfig } from './config.ts';
import { startInspector } from './inspector.ts';
import { resolveNatsEndpoint } from './natsEndpoint.ts';
import { CORE_SERVICES, DECLARED_SERVICES, type CoreService, type DeclaredService } from './services/catalog.ts';
import type { RunningService } from './services/runningService.ts';

/** `telemetry` names the telemetry ingest, which is the projector's TELEMETRY consumer. */
const TELEMETRY_ALIAS = 'telemetry';

/** What `lifeline run` was asked for, before any configuration file is read. */
export type RunRequest =
  | { kind: 'core'; service: CoreService; alias?: string }
  | { kind: 'declared'; service: DeclaredService; names: string[]; all: boolean };

/** A wrong `lifeline run` invocation: exit status 2 and this message. */
export class RunUsageError extends Error {
  readonly code = 'INVALID_RUN';
}

export const RUN_HELP = `usage: lifeline run <service> [name…] [options]

Runs one service alone against NATS_URL (or the bundled server of --data-dir), so the
services of \`lifeline up\` can be spread over machines. Ctrl-C stops it.

services:
${CORE_SERVICES.map((s) => `  ${s.name.padEnd(22)} ${s.summary}`).join('\n')}
  ${TELEMETRY_ALIAS.padEnd(22)} the telemetry ingest: the same as projector (one process does both)
${DECLARED_SERVICES.map((s) => `  ${`${s.name} <name…>|--all`.padEnd(22)} ${s.summary}`).join('\n')}

options:
  --nats-url URL         the NATS server(s) (NATS_URL); without it, the bundled server of --data-dir
  --data-dir DIR         credentials.json (and server.json) are read from here (LIFELINE_DATA_DIR)
  --config FILE          children, links and pollers are read from here (LIFELINE_CONFIG, default ./lifeline.config.json)
  --all                  child/link/poller: every entry of the section
  --inspect [--inspect-port N]  attach the Stately inspector to this process's actors (default port 8090)
  -h, --help             this help; \`lifeline run <service> --help\` for one service

e.g.  NATS_URL=nats://10.0.0.5:4250 lifeline run hub --http-host 0.0.0.0
      lifeline run poller backend --config site.json
      lifeline run child --all
`;

/** `lifeline run <service> --help`. */
export function runServiceHelp(service: string): string {
  const core = CORE_SERVICES.find((s) => s.name === service);
  if (core) return `usage: lifeline run ${core.name} [--nats-url URL] [--data-dir DIR]\n  ${core.summary}\n`;
  if (service === TELEMETRY_ALIAS) return `usage: lifeline run ${TELEMETRY_ALIAS} [--nats-url URL] [--data-dir DIR]\n  the telemetry ingest, which is the projector (its durable consumer on TELEMETRY): runs the projector\n`;
  const declared = DECLARED_SERVICES.find((s) => s.name === service);
  if (declared) {
    return `usage: lifeline run ${declared.name} <name…> | --all [--config FILE] [--nats-url URL] [--data-dir DIR]\n  ${declared.summary}\n  names: the "name" of entries of "${declared.section}" in the configuration file (docs/configuration.md)\n`;
  }
  return RUN_HELP;
}

const serviceList = (): string => [...CORE_SERVICES.map((s) => s.name), TELEMETRY_ALIAS, ...DECLARED_SERVICES.map((s) => `${s.name} <name>`)].join(', ');

/** Reads `run`'s positionals: `<service> [name…]`. */
export function parseRunRequest(positionals: string[], all = false): RunRequest {
  const [name, ...names] = positionals;
  if (!name) throw new RunUsageError(`name a service: ${serviceList()}`);
  const core = CORE_SERVICES.find((s) => s.name === name) ?? (name === TELEMETRY_ALIAS ? CORE_SERVICES.find((s) => s.name === 'projector') : undefined);
  if (core) {
    if (names.length > 0 || all) throw new RunUsageError(`${name} takes no names (only child, link and poller do)`);
    return name === TELEMETRY_ALIAS ? { kind: 'core', service: core, alias: TELEMETRY_ALIAS } : { kind: 'core', service: core };
  }
  const declared = DECLARED_SERVICES.find((s) => s.name === name);
  if (!declared) throw new RunUsageError(`unknown service '${name}': one of ${serviceList()}`);
  if (names.length === 0 && !all) throw new RunUsageError(`name the ${declared.name} to run (an entry of "${declared.section}" in the configuration file), or --all`);
  if (names.length > 0 && all) throw new RunUsageError('give names or --all, not both');
  return { kind: 'declared', service: declared, names, all };
}

/**
 * The entries of the section a declared service reads that `request` names, in the order
 * named. A name the file does not declare is an error listing those it does.
 */
export function pickDeclared(
  request: Extract<RunRequest, { kind: 'declared' }>,
  declared: LifelineConfig & { path: string | null },
): LifelineConfig {
  const { service } = request;
  const entries: Array<{ name: string }> = declared[service.section];
  const what = request.all ? `no ${service.section} to run` : `${service.name} ${request.names.map((n) => `"${n}"`).join(', ')} not declared`;
  if (!declared.path) {
    throw new RunUsageError(`${what}: no configuration file (${DEFAULT_CONFIG_FILE} is absent; name one with --config or LIFELINE_CONFIG)`);
  }
  const available = entries.map((e) => e.name);
  const availableText = available.length ? `available: ${available.join(', ')}` : `it declares no ${service.section}`;
  if (request.all) {
    if (entries.length === 0) throw new RunUsageError(`${what}: ${availableText} (${declared.path})`);
    return { ...declared, children: [], links: [], pollers: [], [service.section]: declared[service.section] };
  }
  const unknown = request.names.filter((n) => !available.includes(n));
  if (unknown.length > 0) {
    throw new RunUsageError(`${service.name} ${unknown.map((n) => `"${n}"`).join(', ')} not declared under "${service.section}" in ${declared.path}; ${availableText}`);
  }
  const picked = [...new Set(request.names)].map((n) => entries.find((e) => e.name === n)!);
  return { ...declared, children: [], links: [], pollers: [], [service.section]: picked };
}

/** Starts what `request` names, against NATS_URL or the bundled server; the services in start order. */
export async function startRequested(request: RunRequest, config: RuntimeConfig): Promise<RunningService[]> {
  // read the configuration first: a wrong name fails before any connection is made
  const picked = request.kind === 'declared' ? pickDeclared(request, loadLifelineConfig(config.configFile)) : null;
  const endpoint = await resolveNatsEndpoint(config);
  if (request.kind === 'core') return [await request.service.start(endpoint, config)];
  return request.service.start(endpoint, config, picked!);
}

/**
 * `lifeline run <service> [name…]`: runs until SIGINT/SIGTERM (graceful); a second one
 * forces exit. With `inspectPort`, the Stately inspector is attached to its actors.
 */
export async function runService(request: RunRequest, config: RuntimeConfig, inspectPort?: number): Promise<number> {
  if (request.kind === 'core' && request.alias) {
    process.stdout.write(`${request.alias}: the telemetry ingest is the projector (its consumer on TELEMETRY); running the projector\n`);
  }
  const inspector = inspectPort !== undefined ? startInspector(inspectPort) : null;
  if (inspector) process.stdout.write(`Stately inspector: ${inspector.url} (the hosted inspector needs internet)\n`);
  let services: RunningService[];
  try {
    services = await startRequested(request, config);
  } catch (err) {
    await inspector?.stop();
    throw err;
  }
  if (inspector) services.unshift(inspector);
  for (const service of services) process.stdout.write(`${service.name} running: ${service.address}\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) process.exit(130);
      stopping = true;
      const stopAll = async (): Promise<void> => {
        for (const service of [...services].reverse()) await service.stop();
      };
      stopAll().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
